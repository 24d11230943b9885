//! Declared names of element types, recorded in saved arrays' manifests.
//!
//! A manifest must say what a saved array holds in words that stay the
//! same across compilers and crate versions, so `load::<T>` can refuse an
//! array of another type instead of misreading its bytes.
//! `std::any::type_name` does not promise that (its output may change
//! between Rust releases), so element types *declare* a tag: Shoal does for
//! numbers, `bool`, `char`, `String`, `()`, and for `Vec`, `Option`,
//! `BTreeMap`, arrays and tuples of tagged types; a type of your own
//! declares its own, and changes it when its encoding changes:
//!
//! ```
//! use shoal_array::TypeTag;
//!
//! #[derive(Clone, serde::Serialize, serde::Deserialize)]
//! struct Visit { user: String, ms: u64 }
//!
//! impl TypeTag for Visit {
//!     fn type_tag() -> String {
//!         "myapp.Visit/1".to_string()
//!     }
//! }
//! assert_eq!(<(u8, Vec<Visit>)>::type_tag(), "(u8,vec<myapp.Visit/1>)");
//! ```

use std::collections::BTreeMap;

/// A stable name for an element type, recorded by `save` and checked by
/// `load`. Equal tags must mean equal encodings.
pub trait TypeTag {
    /// The tag, e.g. `u64`, `string`, `(u8,string)`, `vec<f64>`.
    fn type_tag() -> String;
}

/// Types whose tag is their Rust name.
macro_rules! named {
    ($($t:ty => $tag:literal),* $(,)?) => {
        $(impl TypeTag for $t {
            fn type_tag() -> String {
                $tag.to_string()
            }
        })*
    };
}

named!(
    bool => "bool", char => "char", () => "unit", String => "string",
    u8 => "u8", u16 => "u16", u32 => "u32", u64 => "u64", u128 => "u128",
    i8 => "i8", i16 => "i16", i32 => "i32", i64 => "i64", i128 => "i128",
    f32 => "f32", f64 => "f64",
);

impl<T: TypeTag> TypeTag for Vec<T> {
    fn type_tag() -> String {
        format!("vec<{}>", T::type_tag())
    }
}

impl<T: TypeTag> TypeTag for Option<T> {
    fn type_tag() -> String {
        format!("option<{}>", T::type_tag())
    }
}

/// A box encodes as what it holds.
impl<T: TypeTag> TypeTag for Box<T> {
    fn type_tag() -> String {
        T::type_tag()
    }
}

impl<K: TypeTag, V: TypeTag> TypeTag for BTreeMap<K, V> {
    fn type_tag() -> String {
        format!("map<{},{}>", K::type_tag(), V::type_tag())
    }
}

impl<T: TypeTag, const N: usize> TypeTag for [T; N] {
    fn type_tag() -> String {
        format!("[{};{N}]", T::type_tag())
    }
}

/// Tuples of tagged types, up to six.
macro_rules! tuple {
    ($($name:ident),+) => {
        impl<$($name: TypeTag),+> TypeTag for ($($name,)+) {
            fn type_tag() -> String {
                let parts: Vec<String> = vec![$($name::type_tag()),+];
                format!("({})", parts.join(","))
            }
        }
    };
}

tuple!(A);
tuple!(A, B);
tuple!(A, B, C);
tuple!(A, B, C, D);
tuple!(A, B, C, D, E);
tuple!(A, B, C, D, E, F);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_compose_and_are_pinned() {
        // Saved arrays record these: changing one makes old arrays unloadable.
        assert_eq!(u64::type_tag(), "u64");
        assert_eq!(String::type_tag(), "string");
        assert_eq!(<(u8, String)>::type_tag(), "(u8,string)");
        assert_eq!(<(u32,)>::type_tag(), "(u32)");
        assert_eq!(Vec::<Option<f64>>::type_tag(), "vec<option<f64>>");
        assert_eq!(
            BTreeMap::<String, [i32; 3]>::type_tag(),
            "map<string,[i32;3]>"
        );
        assert_ne!(<(u32,)>::type_tag(), u32::type_tag());
    }
}
