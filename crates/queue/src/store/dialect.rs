//! What differs between the two SQL back ends, as data: the transitions in `sql.rs` are
//! written once and take their dialect-specific fragments from one of these tables.
//! Everything else (placeholders `$n`, `RETURNING`, `ON CONFLICT`, `FILTER`, window
//! functions, `TRUE`/`FALSE`) is spelled the same in both.

use super::Backend;

/// One back end's spelling of the few things SQLite and PostgreSQL say differently.
#[derive(Debug)]
pub(crate) struct Dialect {
    pub backend: Backend,
    /// Begins a write transaction. SQLite takes the write lock at once (`IMMEDIATE`), so
    /// a transaction never fails half-way for want of it.
    pub begin: &'static str,
    /// Ends a `SELECT` of rows a transition is about to change, so that concurrent
    /// claimers and sweepers skip each other's rows instead of waiting (PostgreSQL, where
    /// many processes share the table). SQLite needs none: one writer connection
    /// serialises every transition.
    pub skip_locked: &'static str,
    /// Ends a `SELECT` of the one row a transition is about to change.
    pub lock_row: &'static str,
    /// A JSON array of strings bound as parameter `{}`, as a one-column table `value`.
    pub json_texts: &'static str,
    /// The JSON array text of the aggregated text expression `{}` (`[]` for no rows).
    pub json_array_agg: &'static str,
    /// The database announces new jobs and events to every connected process itself
    /// (PostgreSQL's `NOTIFY`, fired by triggers); otherwise the store announces them
    /// in-process.
    pub notifies: bool,
}

pub(crate) const SQLITE: Dialect = Dialect {
    backend: Backend::Sqlite,
    begin: "BEGIN IMMEDIATE",
    skip_locked: "",
    lock_row: "",
    json_texts: "SELECT value FROM json_each({})",
    json_array_agg: "json_group_array({})",
    notifies: false,
};

pub(crate) const POSTGRES: Dialect = Dialect {
    backend: Backend::Postgres,
    begin: "BEGIN",
    skip_locked: " FOR UPDATE SKIP LOCKED",
    lock_row: " FOR UPDATE",
    json_texts: "SELECT json_array_elements_text(CAST({} AS json)) AS value",
    json_array_agg: "CAST(COALESCE(json_agg({} ORDER BY {}), '[]') AS TEXT)",
    notifies: true,
};

impl Dialect {
    pub fn json_texts(&self, param: &str) -> String {
        self.json_texts.replace("{}", param)
    }

    pub fn json_array_agg(&self, expr: &str) -> String {
        self.json_array_agg.replace("{}", expr)
    }
}
