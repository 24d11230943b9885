//! How array elements become Parquet columns and back.
//!
//! A [`ParquetValue`] is one column: numbers, `bool`, `String`, `Vec<u8>`
//! and `Option`s of those. A [`ParquetRow`] is a whole element: any
//! `ParquetValue` (one column) or a tuple of up to eight of them (one
//! column each); a type of your own implements `ParquetRow` by hand.
//! Conversion works a batch at a time and column by column: a batch of
//! plain numbers becomes an Arrow array without copying, and a column of
//! plain numbers read back is one copy into the batch's vector.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type,
    UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, LargeBinaryArray, LargeStringArray, PrimitiveArray,
};
use arrow_schema::DataType;

use crate::Element;

/// One column's Arrow type and whether it may hold nulls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnType {
    /// The type written. Strings are written as `LargeUtf8` and bytes as
    /// `LargeBinary` (no 2 GiB limit per batch); Parquet stores both as
    /// plain `BYTE_ARRAY`, which every reader takes as string / binary.
    pub data_type: DataType,
    /// Whether the column may hold nulls: only `Option` values.
    pub nullable: bool,
}

impl ColumnType {
    /// A column without nulls.
    pub fn required(data_type: DataType) -> ColumnType {
        ColumnType {
            data_type,
            nullable: false,
        }
    }

    /// A column that may hold nulls.
    pub fn nullable(data_type: DataType) -> ColumnType {
        ColumnType {
            data_type,
            nullable: true,
        }
    }

    /// Whether a file's column of Arrow type `found` reads as this column:
    /// the same type, where every string layout (`Utf8`, `LargeUtf8`,
    /// `Utf8View`) counts as one, and so does every binary layout. Nulls
    /// are checked on the data: a nullable file column without nulls reads
    /// as a plain value (DuckDB marks every column nullable).
    pub fn accepts(&self, found: &DataType) -> bool {
        layout_family(found) == layout_family(&self.data_type)
    }
}

/// `dt` with string and binary layouts folded into one each.
fn layout_family(dt: &DataType) -> DataType {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => DataType::LargeUtf8,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => DataType::LargeBinary,
        other => other.clone(),
    }
}

/// A column whose values do not fit the element type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColumnError {
    /// A null in a column read as a plain value.
    #[error("column {column}: row {row} is null; read the column as an Option to keep nulls")]
    Null {
        /// Column index within the row.
        column: usize,
        /// Row index within the batch.
        row: usize,
    },
    /// A column of another Arrow type.
    #[error("column {column}: holds {found}, expected {expected}")]
    Type {
        /// Column index within the row.
        column: usize,
        /// The Arrow type found.
        found: DataType,
        /// The Arrow type expected.
        expected: DataType,
    },
    /// Another number of columns than the row has.
    #[error("{found} columns for a row of {expected}")]
    Count {
        /// Columns given.
        found: usize,
        /// Columns of the row type.
        expected: usize,
    },
}

impl ColumnError {
    /// The same error about column `column` of a row.
    pub fn at(self, column: usize) -> ColumnError {
        match self {
            ColumnError::Null { row, .. } => ColumnError::Null { column, row },
            ColumnError::Type {
                found, expected, ..
            } => ColumnError::Type {
                column,
                found,
                expected,
            },
            count @ ColumnError::Count { .. } => count,
        }
    }
}

mod sealed {
    /// Only Shoal's column types are [`super::ParquetValue`]s, so tuples
    /// of them can be rows without overlapping the one-column rows.
    pub trait Sealed {}
}

/// A value stored in one Parquet column. Implemented for `bool`, `i8` ..
/// `i64`, `u8` .. `u64`, `f32`, `f64`, `String` (UTF-8), `Vec<u8>`
/// (binary), and `Option` of each (`None` ↔ null).
pub trait ParquetValue: Element + sealed::Sealed {
    /// The column's type.
    fn column_type() -> ColumnType;

    /// `values` as one Arrow array (plain numbers move without copying).
    fn to_column(values: Vec<Self>) -> ArrayRef;

    /// The values of `column`, which [`ColumnType::accepts`]; a null read
    /// as a plain value is [`ColumnError::Null`].
    fn from_column(column: &dyn Array) -> Result<Vec<Self>, ColumnError>;
}

/// An element stored as a row of Parquet columns. Implemented for every
/// [`ParquetValue`] (one column) and for tuples of up to eight of them
/// (one column per field, in order). For a struct of your own, implement
/// it field by field with the fields' [`ParquetValue`] impls:
///
/// ```
/// use shoal_array::parquet::{arrow_array::ArrayRef, ColumnError, ColumnType, ParquetRow, ParquetValue};
///
/// #[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
/// struct Visit { user: String, ms: u64 }
///
/// impl ParquetRow for Visit {
///     fn column_types() -> Vec<ColumnType> {
///         vec![String::column_type(), u64::column_type()]
///     }
///     fn to_columns(rows: Vec<Self>) -> Vec<ArrayRef> {
///         let (users, ms) = rows.into_iter().map(|v| (v.user, v.ms)).unzip();
///         vec![String::to_column(users), u64::to_column(ms)]
///     }
///     fn from_columns(columns: &[ArrayRef]) -> Result<Vec<Self>, ColumnError> {
///         let [users, ms] = columns else {
///             return Err(ColumnError::Count { found: columns.len(), expected: 2 });
///         };
///         let users = String::from_column(users.as_ref()).map_err(|e| e.at(0))?;
///         let ms = u64::from_column(ms.as_ref()).map_err(|e| e.at(1))?;
///         Ok(users.into_iter().zip(ms).map(|(user, ms)| Visit { user, ms }).collect())
///     }
/// }
///
/// let session = shoal_array::Session::embedded();
/// let dir = tempfile::tempdir().unwrap();
/// let url = dir.path().to_str().unwrap();
/// let visits = vec![Visit { user: "ann".into(), ms: 7 }];
/// session.from_vec(visits.clone(), 1).save_parquet(url, &["user", "ms"]).unwrap();
/// let back = session.parquet::<Visit>(url, &["user", "ms"]).unwrap();
/// assert_eq!(back.collect().unwrap(), visits);
/// ```
pub trait ParquetRow: Element {
    /// The columns of a row, in order.
    fn column_types() -> Vec<ColumnType>;

    /// `rows` as one Arrow array per column, all of `rows.len()` values.
    fn to_columns(rows: Vec<Self>) -> Vec<ArrayRef>;

    /// The rows held by `columns` (one array per column, in order, of
    /// types the [`ColumnType`]s accept, all of one length).
    fn from_columns(columns: &[ArrayRef]) -> Result<Vec<Self>, ColumnError>;
}

impl<V: ParquetValue> ParquetRow for V {
    fn column_types() -> Vec<ColumnType> {
        vec![V::column_type()]
    }

    fn to_columns(rows: Vec<Self>) -> Vec<ArrayRef> {
        vec![V::to_column(rows)]
    }

    fn from_columns(columns: &[ArrayRef]) -> Result<Vec<Self>, ColumnError> {
        match columns {
            [column] => V::from_column(column.as_ref()),
            _ => Err(ColumnError::Count {
                found: columns.len(),
                expected: 1,
            }),
        }
    }
}

/// `column` as the Arrow array type `A`, or a type error.
fn typed<A: 'static>(column: &dyn Array, expected: DataType) -> Result<&A, ColumnError> {
    column
        .as_any()
        .downcast_ref::<A>()
        .ok_or_else(|| ColumnError::Type {
            column: 0,
            found: column.data_type().clone(),
            expected,
        })
}

/// An error at the first null of `column`, if it has one.
fn no_nulls(column: &dyn Array) -> Result<(), ColumnError> {
    if column.null_count() == 0 {
        return Ok(());
    }
    let row = (0..column.len()).find(|&i| column.is_null(i)).unwrap_or(0);
    Err(ColumnError::Null { column: 0, row })
}

/// Plain numbers, and `Option`s of them, as Arrow primitive arrays.
macro_rules! primitive {
    ($($t:ty => $arrow:ty, $dt:ident;)*) => {$(
        impl sealed::Sealed for $t {}
        impl ParquetValue for $t {
            fn column_type() -> ColumnType {
                ColumnType::required(DataType::$dt)
            }
            fn to_column(values: Vec<Self>) -> ArrayRef {
                Arc::new(PrimitiveArray::<$arrow>::from(values))
            }
            fn from_column(column: &dyn Array) -> Result<Vec<Self>, ColumnError> {
                let array = typed::<PrimitiveArray<$arrow>>(column, DataType::$dt)?;
                no_nulls(array)?;
                Ok(array.values().to_vec())
            }
        }
        impl sealed::Sealed for Option<$t> {}
        impl ParquetValue for Option<$t> {
            fn column_type() -> ColumnType {
                ColumnType::nullable(DataType::$dt)
            }
            fn to_column(values: Vec<Self>) -> ArrayRef {
                Arc::new(PrimitiveArray::<$arrow>::from(values))
            }
            fn from_column(column: &dyn Array) -> Result<Vec<Self>, ColumnError> {
                Ok(typed::<PrimitiveArray<$arrow>>(column, DataType::$dt)?.iter().collect())
            }
        }
    )*};
}

primitive! {
    i8 => Int8Type, Int8;
    i16 => Int16Type, Int16;
    i32 => Int32Type, Int32;
    i64 => Int64Type, Int64;
    u8 => UInt8Type, UInt8;
    u16 => UInt16Type, UInt16;
    u32 => UInt32Type, UInt32;
    u64 => UInt64Type, UInt64;
    f32 => Float32Type, Float32;
    f64 => Float64Type, Float64;
}

impl sealed::Sealed for bool {}
impl ParquetValue for bool {
    fn column_type() -> ColumnType {
        ColumnType::required(DataType::Boolean)
    }
    fn to_column(values: Vec<Self>) -> ArrayRef {
        Arc::new(BooleanArray::from(values))
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Self>, ColumnError> {
        let array = typed::<BooleanArray>(column, DataType::Boolean)?;
        no_nulls(array)?;
        Ok(array.values().iter().collect())
    }
}

impl sealed::Sealed for Option<bool> {}
impl ParquetValue for Option<bool> {
    fn column_type() -> ColumnType {
        ColumnType::nullable(DataType::Boolean)
    }
    fn to_column(values: Vec<Self>) -> ArrayRef {
        Arc::new(BooleanArray::from(values))
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Self>, ColumnError> {
        Ok(typed::<BooleanArray>(column, DataType::Boolean)?
            .iter()
            .collect())
    }
}

/// The values of a string column of any layout, `None` for nulls.
fn strings(column: &dyn Array) -> Result<Vec<Option<&str>>, ColumnError> {
    Ok(match column.data_type() {
        DataType::Utf8 => column.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => column.as_string::<i64>().iter().collect(),
        DataType::Utf8View => column.as_string_view().iter().collect(),
        found => {
            return Err(ColumnError::Type {
                column: 0,
                found: found.clone(),
                expected: DataType::LargeUtf8,
            })
        }
    })
}

/// The values of a binary column of any layout, `None` for nulls.
fn binaries(column: &dyn Array) -> Result<Vec<Option<&[u8]>>, ColumnError> {
    Ok(match column.data_type() {
        DataType::Binary => column.as_binary::<i32>().iter().collect(),
        DataType::LargeBinary => column.as_binary::<i64>().iter().collect(),
        DataType::BinaryView => column.as_binary_view().iter().collect(),
        found => {
            return Err(ColumnError::Type {
                column: 0,
                found: found.clone(),
                expected: DataType::LargeBinary,
            })
        }
    })
}

impl sealed::Sealed for String {}
impl ParquetValue for String {
    fn column_type() -> ColumnType {
        ColumnType::required(DataType::LargeUtf8)
    }
    fn to_column(values: Vec<Self>) -> ArrayRef {
        Arc::new(LargeStringArray::from_iter_values(values))
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Self>, ColumnError> {
        no_nulls(column)?;
        let values = strings(column)?;
        Ok(values
            .into_iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect())
    }
}

impl sealed::Sealed for Option<String> {}
impl ParquetValue for Option<String> {
    fn column_type() -> ColumnType {
        ColumnType::nullable(DataType::LargeUtf8)
    }
    fn to_column(values: Vec<Self>) -> ArrayRef {
        Arc::new(LargeStringArray::from(values))
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Self>, ColumnError> {
        let values = strings(column)?;
        Ok(values.into_iter().map(|v| v.map(str::to_owned)).collect())
    }
}

impl sealed::Sealed for Vec<u8> {}
impl ParquetValue for Vec<u8> {
    fn column_type() -> ColumnType {
        ColumnType::required(DataType::LargeBinary)
    }
    fn to_column(values: Vec<Self>) -> ArrayRef {
        Arc::new(LargeBinaryArray::from_iter_values(values))
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Self>, ColumnError> {
        no_nulls(column)?;
        let values = binaries(column)?;
        Ok(values
            .into_iter()
            .map(|v| v.unwrap_or_default().to_vec())
            .collect())
    }
}

impl sealed::Sealed for Option<Vec<u8>> {}
impl ParquetValue for Option<Vec<u8>> {
    fn column_type() -> ColumnType {
        ColumnType::nullable(DataType::LargeBinary)
    }
    fn to_column(values: Vec<Self>) -> ArrayRef {
        Arc::new(LargeBinaryArray::from_iter(values))
    }
    fn from_column(column: &dyn Array) -> Result<Vec<Self>, ColumnError> {
        let values = binaries(column)?;
        Ok(values.into_iter().map(|v| v.map(<[u8]>::to_vec)).collect())
    }
}

/// Tuples of column values, one column per field.
macro_rules! tuple {
    ($count:literal: $($T:ident $v:ident $i:tt),+) => {
        impl<$($T: ParquetValue),+> ParquetRow for ($($T,)+) {
            fn column_types() -> Vec<ColumnType> {
                vec![$($T::column_type()),+]
            }

            fn to_columns(rows: Vec<Self>) -> Vec<ArrayRef> {
                $(let mut $v = Vec::<$T>::with_capacity(rows.len());)+
                for row in rows {
                    $($v.push(row.$i);)+
                }
                vec![$($T::to_column($v)),+]
            }

            fn from_columns(columns: &[ArrayRef]) -> Result<Vec<Self>, ColumnError> {
                if columns.len() != $count {
                    return Err(ColumnError::Count { found: columns.len(), expected: $count });
                }
                $(let mut $v = $T::from_column(columns[$i].as_ref())
                    .map_err(|e| e.at($i))?
                    .into_iter();)+
                let mut rows = Vec::with_capacity(columns[0].len());
                while let ($(Some($v),)+) = ($($v.next(),)+) {
                    rows.push(($($v,)+));
                }
                Ok(rows)
            }
        }
    };
}

tuple!(1: A a 0);
tuple!(2: A a 0, B b 1);
tuple!(3: A a 0, B b 1, C c 2);
tuple!(4: A a 0, B b 1, C c 2, D d 3);
tuple!(5: A a 0, B b 1, C c 2, D d 3, E e 4);
tuple!(6: A a 0, B b 1, C c 2, D d 3, E e 4, F f 5);
tuple!(7: A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6);
tuple!(8: A a 0, B b 1, C c 2, D d 3, E e 4, F f 5, G g 6, H h 7);
