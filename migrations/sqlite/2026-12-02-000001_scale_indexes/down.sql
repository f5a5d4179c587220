DROP INDEX changes_kind_seq;
DROP INDEX contracts_founded_on;
DROP INDEX contracts_network;
CREATE INDEX contracts_network ON contracts (network_id);
DROP INDEX bodies_network;
CREATE INDEX bodies_network ON bodies (network_id);
DROP INDEX contacts_network;
CREATE INDEX contacts_network ON contacts (network_id);
