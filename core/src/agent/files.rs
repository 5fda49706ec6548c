//! Interim registry of browsable sandboxes; the `/files` endpoints replace this on branch
//! `fetch`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

#[derive(Debug, Default)]
pub struct Files {
    attached: BTreeMap<String, PathBuf>,
}

pub type SharedFiles = Arc<RwLock<Files>>;

impl Files {
    pub fn attach(&mut self, path: &str, real: &Path) {
        self.attached.insert(path.to_string(), real.to_path_buf());
    }
}
