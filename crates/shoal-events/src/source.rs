//! Where an input file's bytes come from: shoal-store's
//! [`InputFile`](shoal_store::inputs::InputFile) — a local path (or shared
//! mount), or an object in a store. Splits carry the file as given
//! (`Split::path`): a local path, or the object's URL. Every reader goes
//! through it, so the formats never know where bytes come from.

pub(crate) use shoal_store::inputs::InputFile as Source;
