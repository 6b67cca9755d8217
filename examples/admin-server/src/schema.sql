-- The admin server's tables. Applied at start by migrate() (src/db.ts); every statement is idempotent.

-- One row per order. order_id is the business key: an order exists once, whichever upload brought it.
create table if not exists orders (
  order_id      text primary key,
  ordered_at    timestamptz not null,
  customer      text not null,
  phone         text not null,
  address       text not null,
  item          text not null,
  quantity      integer not null check (quantity > 0),
  unit_price    numeric(14, 2) not null check (unit_price >= 0),
  total         numeric(16, 2) not null check (total >= 0),
  paid          boolean not null,
  delivery_date date,
  memo          text,
  -- Where the row came from: the sluice upload and the 1-based row number in the source sheet.
  upload_id     text not null,
  source_row    integer not null check (source_row > 0),
  created_at    timestamptz not null default now(),
  unique (upload_id, source_row)
);

-- The import ledger: one row per chunk imported, written in the same transaction as the chunk's orders.
-- A chunk delivered again (SQS redelivery after a crash or a lost answer, a late message of an aborted Map Run
-- child, a redrive) finds its row here and is answered with the recorded result instead of being imported twice.
create table if not exists imported_chunks (
  upload_id   text not null,
  chunk_index integer not null check (chunk_index >= 0),
  first_row   integer not null,
  last_row    integer not null,
  rows        integer not null,
  accepted    integer not null check (accepted >= 0),
  rejected    jsonb not null default '[]'::jsonb,
  duration_ms integer,
  imported_at timestamptz not null default now(),
  primary key (upload_id, chunk_index)
);

create index if not exists imported_chunks_imported_at on imported_chunks (imported_at);
