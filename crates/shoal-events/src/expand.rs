//! Expanding the user's input arguments into a sorted list of files (see
//! [`shoal_store::inputs::expand_inputs`], shared with wordcount and array
//! sources).

use std::path::PathBuf;

use crate::error::InputError;

/// Files named by `inputs`, in argument order, directories, prefixes and
/// globs expanded in place; store URLs stay URLs.
pub(crate) fn expand_inputs(inputs: &[String]) -> Result<Vec<PathBuf>, InputError> {
    Ok(shoal_store::inputs::expand_inputs(inputs)?)
}
