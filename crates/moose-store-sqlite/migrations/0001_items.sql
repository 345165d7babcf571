-- The single table, mirroring DynamoDB's Moose-DDB: PK/SK primary key, one GSI, an ISO-8601
-- `timestamp`, and every other attribute as one JSON object.
CREATE TABLE items (
    pk      TEXT NOT NULL,
    sk      TEXT NOT NULL,
    gsi1pk  TEXT,
    gsi1sk  TEXT,
    ts      TEXT NOT NULL,
    attrs   TEXT NOT NULL CHECK (json_type(attrs) = 'object'),
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;

-- GSI1: a sparse index, like DynamoDB's (items without GSI1PK are not in it). PK and SK
-- are part of the index so that paging is stable when GSI1SK values repeat.
CREATE INDEX items_gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
