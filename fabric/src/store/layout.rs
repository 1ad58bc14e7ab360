//! The DynamoDB tables behind `DynamoDbStore` (feature `dynamodb`), as data:
//! `create_tables` creates them from it and the deploy template declares them from
//! it, so the tables a stack gets are the tables the store queries.

/// The connections table's index of connections by user.
pub const USER_INDEX: &str = "userId-index";
/// The rooms table's index of memberships by connection.
pub const CONNECTION_INDEX: &str = "connectionId-index";

pub(crate) const ATTR_CONNECTION_ID: &str = "connectionId";
pub(crate) const ATTR_CONNECTED_AT: &str = "connectedAt";
/// The TTL attribute of every table (epoch seconds).
pub const ATTR_EXPIRES_AT: &str = "expiresAt";
pub(crate) const ATTR_USER_ID: &str = "userId";
pub(crate) const ATTR_ROOM: &str = "room";
/// The rate limit table's partition key: one item per token bucket
/// (`DynamoDbBuckets`), deleted by the TTL on `expiresAt` once the bucket is full.
pub const ATTR_BUCKET: &str = "bucket";
/// The variable that names the rate limit table (`EnvBuckets`, the template).
pub const RATE_LIMIT_TABLE_VARIABLE: &str = "FABRIC_RATE_LIMIT_TABLE";

/// A DynamoDB scalar type of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    /// `S`: a string.
    String,
    /// `N`: a number.
    Number,
}

impl AttributeKind {
    /// `S` or `N`.
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeKind::String => "S",
            AttributeKind::Number => "N",
        }
    }
}

/// The role of a key attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRole {
    /// The partition key (`HASH`).
    Partition,
    /// The sort key (`RANGE`).
    Sort,
}

impl KeyRole {
    /// `HASH` or `RANGE`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyRole::Partition => "HASH",
            KeyRole::Sort => "RANGE",
        }
    }
}

/// A global secondary index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexLayout {
    /// The index name.
    pub name: &'static str,
    /// Its keys.
    pub keys: &'static [(&'static str, KeyRole)],
    /// The non-key attributes it carries; `None` for all of them.
    pub includes: Option<&'static [&'static str]>,
}

/// One table: its key attributes, keys, index and TTL attribute.
///
/// ```
/// use fabric::store::layout::{CONNECTIONS, KeyRole, USER_INDEX};
/// assert_eq!(CONNECTIONS.keys, &[("connectionId", KeyRole::Partition)]);
/// assert_eq!(CONNECTIONS.index.name, USER_INDEX);
/// assert_eq!(CONNECTIONS.ttl_attribute, "expiresAt");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableLayout {
    /// The attributes that appear in a key, with their types.
    pub attributes: &'static [(&'static str, AttributeKind)],
    /// The table's keys.
    pub keys: &'static [(&'static str, KeyRole)],
    /// The table's one global secondary index.
    pub index: IndexLayout,
    /// The attribute DynamoDB's TTL deletes items by (epoch seconds).
    pub ttl_attribute: &'static str,
}

/// One item per connection; `userId-index` answers "the connections of a user".
pub const CONNECTIONS: TableLayout = TableLayout {
    attributes: &[
        (ATTR_CONNECTION_ID, AttributeKind::String),
        (ATTR_USER_ID, AttributeKind::String),
        (ATTR_CONNECTED_AT, AttributeKind::Number),
    ],
    keys: &[(ATTR_CONNECTION_ID, KeyRole::Partition)],
    index: IndexLayout {
        name: USER_INDEX,
        keys: &[
            (ATTR_USER_ID, KeyRole::Partition),
            (ATTR_CONNECTED_AT, KeyRole::Sort),
        ],
        includes: None,
    },
    ttl_attribute: ATTR_EXPIRES_AT,
};

/// One item per membership; a room's members are one Query on its partition, and
/// `connectionId-index` answers "the rooms of a connection".
pub const ROOMS: TableLayout = TableLayout {
    attributes: &[
        (ATTR_ROOM, AttributeKind::String),
        (ATTR_CONNECTION_ID, AttributeKind::String),
    ],
    keys: &[
        (ATTR_ROOM, KeyRole::Partition),
        (ATTR_CONNECTION_ID, KeyRole::Sort),
    ],
    index: IndexLayout {
        name: CONNECTION_INDEX,
        keys: &[(ATTR_CONNECTION_ID, KeyRole::Partition)],
        includes: Some(&[ATTR_EXPIRES_AT]),
    },
    ttl_attribute: ATTR_EXPIRES_AT,
};
