//! Plain-text tables whose columns are as wide as their widest cell, so
//! long worker names and job fingerprints keep the columns in line.

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text, padded on the right.
    Left,
    /// Numbers, padded on the left.
    Right,
}

/// The lines of a table indented by two spaces: the header, then one line
/// per row, columns two spaces apart; the last column is never padded.
pub fn render(columns: &[(&str, Align)], rows: &[Vec<String>]) -> Vec<String> {
    let header: Vec<String> = columns.iter().map(|(name, _)| name.to_string()).collect();
    let widths: Vec<usize> = (0..columns.len())
        .map(|c| {
            std::iter::once(&header)
                .chain(rows)
                .map(|row| row.get(c).map_or(0, |cell| cell.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    std::iter::once(&header)
        .chain(rows)
        .map(|row| {
            let cells = row.iter().zip(columns).zip(&widths).enumerate();
            let line: Vec<String> = cells
                .map(|(c, ((cell, (_, align)), &width))| match align {
                    Align::Right => format!("{cell:>width$}"),
                    Align::Left if c + 1 == row.len() => cell.clone(),
                    Align::Left => format!("{cell:<width$}"),
                })
                .collect();
            format!("  {}", line.join("  "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let columns = [
            ("NAME", Align::Left),
            ("N", Align::Right),
            ("JOBS", Align::Left),
        ];
        let rows = vec![
            vec!["custom-worker-long".into(), "2".into(), "a@1 b@1".into()],
            vec!["é".into(), "10".into(), "a@1".into()],
        ];
        assert_eq!(
            render(&columns, &rows),
            [
                "  NAME                 N  JOBS",
                "  custom-worker-long   2  a@1 b@1",
                "  é                   10  a@1",
            ]
        );
    }
}
