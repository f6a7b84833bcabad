//! The cardinality guard: label values beyond a maximum fold into one overflow value.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use crate::metrics::{Bound, Counter};

/// Bound handles cached by a second label value (bounded by the guards that feed it).
pub(super) struct BoundMap<T> {
    map: RwLock<HashMap<Arc<str>, Bound<T>>>,
}

impl<T> BoundMap<T> {
    pub(super) fn new() -> Self {
        BoundMap {
            map: RwLock::new(HashMap::new()),
        }
    }

    pub(super) fn get(&self, key: &str, bind: impl FnOnce() -> Bound<T>) -> Bound<T> {
        if let Some(b) = self.map.read().unwrap_or_else(|e| e.into_inner()).get(key) {
            return b.clone();
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        map.entry(Arc::from(key)).or_insert_with(bind).clone()
    }
}

/// A map from label value to handles holding at most `max` values; later values share the
/// overflow entry, and every recording that folds is counted.
pub(super) struct Guarded<H> {
    max: usize,
    overflow_label: Arc<str>,
    map: RwLock<HashMap<Arc<str>, Arc<H>>>,
    overflow: OnceLock<Arc<H>>,
    folded: Bound<Counter<u64>>,
}

impl<H> Guarded<H> {
    pub(super) fn new(max: usize, overflow_label: &str, folded: Bound<Counter<u64>>) -> Self {
        Guarded {
            max,
            overflow_label: overflow_label.into(),
            map: RwLock::new(HashMap::new()),
            overflow: OnceLock::new(),
            folded,
        }
    }

    pub(super) fn get(&self, key: &str, make: impl FnOnce(&str) -> H) -> Arc<H> {
        {
            let map = self.map.read().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = map.get(key) {
                return Arc::clone(h);
            }
            if map.len() >= self.max {
                drop(map);
                return self.fold(make);
            }
        }
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if let Some(h) = map.get(key) {
            return Arc::clone(h);
        }
        if map.len() >= self.max {
            drop(map);
            return self.fold(make);
        }
        let h = Arc::new(make(key));
        map.insert(Arc::from(key), Arc::clone(&h));
        h
    }

    fn fold(&self, make: impl FnOnce(&str) -> H) -> Arc<H> {
        self.folded.add(1);
        Arc::clone(
            self.overflow
                .get_or_init(|| Arc::new(make(&self.overflow_label))),
        )
    }

    pub(super) fn tracked(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }
}
