//! Range reads over one partition.

use serde::{Deserialize, Serialize};

use crate::Item;

/// Which key pair a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Index {
    /// The table's primary key (`PK`, `SK`).
    #[default]
    Primary,
    /// The secondary index (`GSI1PK`, `GSI1SK`). Eventually consistent on DynamoDB.
    Gsi1,
}

/// A condition on the sort key, compared byte-wise on UTF-8 as DynamoDB does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SortCondition {
    /// Every item of the partition.
    #[default]
    All,
    /// Sort key equal to the value.
    Equals(String),
    /// Sort key starting with the prefix.
    BeginsWith(String),
    /// Sort key between the two values, both inclusive.
    Between(String, String),
    /// Sort key greater than or equal to the value.
    AtLeast(String),
    /// Sort key less than or equal to the value.
    AtMost(String),
}

/// Ascending or descending sort-key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Smallest sort key first.
    #[default]
    Forward,
    /// Largest sort key first.
    Backward,
}

/// An opaque position in a query's results, handed back by [`Page::next`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor(pub String);

/// One query: a partition, a sort-key condition, an order and a page size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Which key pair to read.
    pub index: Index,
    /// The partition key value.
    pub partition: String,
    /// The sort-key condition.
    pub sort: SortCondition,
    /// The order of results.
    pub direction: Direction,
    /// At most this many items per page (1..=1000).
    pub limit: u32,
    /// Continue after this position (from a previous [`Page::next`]).
    pub start_after: Option<Cursor>,
}

impl Query {
    /// The default and largest page sizes.
    pub const DEFAULT_LIMIT: u32 = 100;
    /// The largest page size a backend accepts.
    pub const MAX_LIMIT: u32 = 1000;

    /// A forward query over a whole partition of the primary index.
    pub fn partition(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Primary,
            partition: pk.into(),
            sort: SortCondition::All,
            direction: Direction::Forward,
            limit: Self::DEFAULT_LIMIT,
            start_after: None,
        }
    }

    /// A forward query over a whole partition of the secondary index.
    pub fn gsi1(pk: impl Into<String>) -> Self {
        Self {
            index: Index::Gsi1,
            ..Self::partition(pk)
        }
    }

    /// Restricts the sort key.
    #[must_use]
    pub fn sort(mut self, sort: SortCondition) -> Self {
        self.sort = sort;
        self
    }

    /// Restricts the sort key to a prefix.
    #[must_use]
    pub fn begins_with(self, prefix: impl Into<String>) -> Self {
        self.sort(SortCondition::BeginsWith(prefix.into()))
    }

    /// Reads largest sort key first.
    #[must_use]
    pub fn backward(mut self) -> Self {
        self.direction = Direction::Backward;
        self
    }

    /// Sets the page size.
    #[must_use]
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Checks the query against the store contract.
    pub fn validate(&self) -> Result<(), crate::StoreError> {
        if self.partition.is_empty() {
            return Err(crate::StoreError::InvalidRequest(
                "query partition must not be empty".into(),
            ));
        }
        if !(1..=Self::MAX_LIMIT).contains(&self.limit) {
            return Err(crate::StoreError::InvalidRequest(format!(
                "query limit must be between 1 and {}, got {}",
                Self::MAX_LIMIT,
                self.limit
            )));
        }
        if let SortCondition::Between(low, high) = &self.sort
            && low > high
        {
            return Err(crate::StoreError::InvalidRequest(format!(
                "sort-key range is empty: {low:?} > {high:?}"
            )));
        }
        Ok(())
    }
}

/// One page of query results.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    /// The items, in query order.
    pub items: Vec<Item>,
    /// Where the next page starts, or `None` when this was the last page.
    pub next: Option<Cursor>,
}
