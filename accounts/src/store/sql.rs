//! One way to run the accounts queries on SQLite or PostgreSQL.
//!
//! The queries are written once, in the SQL both accept: `?N`
//! placeholders (rewritten to PostgreSQL's `$N`), `TRUE`/`FALSE`,
//! `INSERT … ON CONFLICT`, `RETURNING`, and integers that fit an `i64`
//! (times in milliseconds). Parameters are typed ([`Param`]) so that
//! PostgreSQL, which checks each parameter against its column, gets a
//! NULL of the right type. A row's columns are read by the Rust type
//! wanted ([`Column`]), whatever the backend stored.

use std::cell::RefCell;

use crate::error::{AccountsError, ApiError};

/// A query parameter.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    Text(Option<&'a str>),
    Int(Option<i64>),
    Bool(bool),
    Bytes(Option<&'a [u8]>),
}

/// A value that can be a parameter (borrowed for the query's duration).
pub(crate) trait AsParam {
    fn param(&self) -> Param<'_>;
}

impl<T: AsParam + ?Sized> AsParam for &T {
    fn param(&self) -> Param<'_> {
        (**self).param()
    }
}
impl AsParam for str {
    fn param(&self) -> Param<'_> {
        Param::Text(Some(self))
    }
}
impl AsParam for String {
    fn param(&self) -> Param<'_> {
        Param::Text(Some(self))
    }
}
impl AsParam for Option<String> {
    fn param(&self) -> Param<'_> {
        Param::Text(self.as_deref())
    }
}
impl AsParam for Option<&str> {
    fn param(&self) -> Param<'_> {
        Param::Text(*self)
    }
}
impl AsParam for u64 {
    fn param(&self) -> Param<'_> {
        Param::Int(Some(i64::try_from(*self).unwrap_or(i64::MAX)))
    }
}
impl AsParam for Option<u64> {
    fn param(&self) -> Param<'_> {
        Param::Int(self.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
    }
}
impl AsParam for u32 {
    fn param(&self) -> Param<'_> {
        Param::Int(Some(i64::from(*self)))
    }
}
impl AsParam for bool {
    fn param(&self) -> Param<'_> {
        Param::Bool(*self)
    }
}
impl AsParam for [u8] {
    fn param(&self) -> Param<'_> {
        Param::Bytes(Some(self))
    }
}
impl<const N: usize> AsParam for [u8; N] {
    fn param(&self) -> Param<'_> {
        Param::Bytes(Some(self))
    }
}
impl AsParam for Vec<u8> {
    fn param(&self) -> Param<'_> {
        Param::Bytes(Some(self))
    }
}
impl AsParam for Option<&[u8]> {
    fn param(&self) -> Param<'_> {
        Param::Bytes(*self)
    }
}

/// `args![a, b]`: the parameters of a query.
macro_rules! args {
    ($($value:expr),* $(,)?) => {
        &[$($crate::store::sql::AsParam::param(&$value)),*][..]
    };
}
pub(crate) use args;

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value, ValueRef};
        Ok(match *self {
            Param::Text(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Param::Int(Some(v)) => ToSqlOutput::Owned(Value::Integer(v)),
            Param::Bool(v) => ToSqlOutput::Owned(Value::Integer(i64::from(v))),
            Param::Bytes(Some(v)) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
            Param::Text(None) | Param::Int(None) | Param::Bytes(None) => ToSqlOutput::Owned(Value::Null),
        })
    }
}

/// What a transaction runs on.
pub(crate) struct Db<'a>(Inner<'a>);

enum Inner<'a> {
    Sqlite(&'a rusqlite::Connection),
    Postgres(RefCell<postgres::Transaction<'a>>),
}

/// `?N` → `$N` (no query has a `?` anywhere else).
fn postgres_sql(sql: &str) -> String {
    sql.replace('?', "$")
}

/// PostgreSQL's parameters for `params`.
fn postgres_params<'p>(params: &'p [Param<'p>]) -> Vec<Box<dyn postgres::types::ToSql + Sync + 'p>> {
    params
        .iter()
        .map(|p| -> Box<dyn postgres::types::ToSql + Sync + 'p> {
            match *p {
                Param::Text(v) => Box::new(v),
                Param::Int(v) => Box::new(v),
                Param::Bool(v) => Box::new(v),
                Param::Bytes(v) => Box::new(v),
            }
        })
        .collect()
}

impl<'a> Db<'a> {
    pub fn sqlite(conn: &'a rusqlite::Connection) -> Self {
        Db(Inner::Sqlite(conn))
    }

    pub fn postgres(tx: postgres::Transaction<'a>) -> Self {
        Db(Inner::Postgres(RefCell::new(tx)))
    }

    /// Commits a PostgreSQL transaction (SQLite's is its caller's).
    pub fn commit(self) -> Result<(), AccountsError> {
        match self.0 {
            Inner::Sqlite(_) => Ok(()),
            Inner::Postgres(tx) => Ok(tx.into_inner().commit()?),
        }
    }

    /// Runs a statement; the rows it changed.
    pub fn exec(&self, sql: &str, params: &[Param<'_>]) -> Result<usize, ApiError> {
        match &self.0 {
            Inner::Sqlite(conn) => Ok(conn
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(params))?),
            Inner::Postgres(tx) => {
                let values = postgres_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| &**v).collect();
                let changed = tx
                    .borrow_mut()
                    .execute(postgres_sql(sql).as_str(), &refs)
                    .map_err(AccountsError::from)?;
                Ok(usize::try_from(changed).unwrap_or(usize::MAX))
            }
        }
    }

    /// Every row of a query, each through `f`.
    pub fn rows<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        mut f: impl FnMut(&Row<'_>) -> Result<T, ApiError>,
    ) -> Result<Vec<T>, ApiError> {
        match &self.0 {
            Inner::Sqlite(conn) => {
                let mut statement = conn.prepare_cached(sql)?;
                let mut rows = statement.query(rusqlite::params_from_iter(params))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    out.push(f(&Row(RowInner::Sqlite(row)))?);
                }
                Ok(out)
            }
            Inner::Postgres(tx) => {
                let values = postgres_params(params);
                let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| &**v).collect();
                let rows = tx
                    .borrow_mut()
                    .query(postgres_sql(sql).as_str(), &refs)
                    .map_err(AccountsError::from)?;
                rows.iter().map(|row| f(&Row(RowInner::Postgres(row)))).collect()
            }
        }
    }

    /// The first row of a query, if any.
    pub fn row<T>(
        &self,
        sql: &str,
        params: &[Param<'_>],
        f: impl FnMut(&Row<'_>) -> Result<T, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        Ok(self.rows(sql, params, f)?.into_iter().next())
    }
}

/// One row of a result.
pub(crate) struct Row<'r>(RowInner<'r>);

enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `i`, as `T`.
    pub fn get<T: Column>(&self, i: usize) -> Result<T, ApiError> {
        match &self.0 {
            RowInner::Sqlite(row) => Ok(T::sqlite(row, i)?),
            RowInner::Postgres(row) => Ok(T::postgres(row, i)?),
        }
    }
}

/// A Rust type a column is read as.
pub(crate) trait Column: Sized {
    fn sqlite(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self>;
    fn postgres(row: &postgres::Row, i: usize) -> Result<Self, AccountsError>;
}

macro_rules! column {
    ($t:ty) => {
        impl Column for $t {
            fn sqlite(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
                row.get(i)
            }
            fn postgres(row: &postgres::Row, i: usize) -> Result<Self, AccountsError> {
                Ok(row.try_get(i)?)
            }
        }
    };
}
column!(String);
column!(Option<String>);
column!(i64);
column!(Option<i64>);
column!(bool);
column!(Vec<u8>);
column!(Option<Vec<u8>>);

/// Times and counts are stored as `i64`; a negative one is corrupt.
fn unsigned<T: TryFrom<i64>>(v: i64, i: usize) -> Result<T, AccountsError> {
    T::try_from(v).map_err(|_| AccountsError::Corrupt(format!("column {i}: {v} is out of range")))
}

impl Column for u64 {
    fn sqlite(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
    fn postgres(row: &postgres::Row, i: usize) -> Result<Self, AccountsError> {
        let v: i64 = row.try_get(i)?;
        unsigned(v, i)
    }
}

impl Column for Option<u64> {
    fn sqlite(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
    fn postgres(row: &postgres::Row, i: usize) -> Result<Self, AccountsError> {
        let v: Option<i64> = row.try_get(i)?;
        v.map(|v| unsigned(v, i)).transpose()
    }
}

impl Column for u32 {
    fn sqlite(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Self> {
        row.get(i)
    }
    fn postgres(row: &postgres::Row, i: usize) -> Result<Self, AccountsError> {
        let v: i64 = row.try_get(i)?;
        unsigned(v, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_postgres_ones() {
        assert_eq!(
            postgres_sql("UPDATE t SET a = ?2 WHERE b = ?1 AND c = ?12"),
            "UPDATE t SET a = $2 WHERE b = $1 AND c = $12"
        );
    }

    #[test]
    fn typed_parameters_on_sqlite() {
        let conn = rusqlite::Connection::open_in_memory().expect("memory");
        conn.execute_batch("CREATE TABLE t (a TEXT, b INTEGER, c INTEGER, d BLOB)")
            .expect("table");
        let db = Db::sqlite(&conn);
        let none: Option<&str> = None;
        db.exec(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
            args![none, 7u64, true, b"xy"],
        )
        .expect("insert");
        let got = db
            .row("SELECT a, b, c, d FROM t", args![], |r| {
                Ok((
                    r.get::<Option<String>>(0)?,
                    r.get::<u64>(1)?,
                    r.get::<bool>(2)?,
                    r.get::<Vec<u8>>(3)?,
                ))
            })
            .expect("select");
        assert_eq!(got, Some((None, 7, true, b"xy".to_vec())));
    }
}
