-- Indexes for a registry that has grown for years (bench/scale.sh: 100 times the records of today).
--
-- The lists of one network's records (`/v1/networks/{id}/contacts`, …) page in id order: with the id in
-- the index, a page reads its own rows and no others, however many the network has.
DROP INDEX contacts_network;
CREATE INDEX contacts_network ON contacts (network_id, id);
DROP INDEX bodies_network;
CREATE INDEX bodies_network ON bodies (network_id, id);
DROP INDEX contracts_network;
CREATE INDEX contracts_network ON contracts (network_id, id);
-- A network's `foundedOn` derives from its contracts: the earliest date of a kind is one step in here.
CREATE INDEX contracts_founded_on ON contracts (network_id, kind, signed_on);
-- The change feed of one type, in sequence order; and which entries changed since a time, without
-- reading the rows (see `storage::changes::feed`).
CREATE INDEX changes_kind_seq ON changes (kind, seq);
DROP INDEX changes_updated_at;
CREATE INDEX changes_updated_at ON changes (updated_at, seq);
