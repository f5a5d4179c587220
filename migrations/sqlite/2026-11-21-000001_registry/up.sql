-- The registry's tables. UUIDs are TEXT and timestamps TIMESTAMP (UTC) so that SQLite and PostgreSQL
-- share one schema.rs; booleans are INTEGER 0/1 for the same reason.

CREATE TABLE districts (
    key INTEGER PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    authority TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE regions (
    key TEXT PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    ars TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    district_key INTEGER NOT NULL REFERENCES districts (key),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE networks (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    region_key TEXT NOT NULL UNIQUE REFERENCES regions (key),
    status TEXT NOT NULL,
    website TEXT,
    description TEXT,
    sources TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX networks_updated_at ON networks (updated_at, id);

CREATE TABLE handlungsfelder (
    id TEXT PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    description TEXT,
    sources TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX handlungsfelder_updated_at ON handlungsfelder (updated_at, id);

CREATE TABLE network_handlungsfelder (
    network_id TEXT NOT NULL REFERENCES networks (id),
    handlungsfeld_id TEXT NOT NULL REFERENCES handlungsfelder (id),
    position INTEGER NOT NULL,
    PRIMARY KEY (network_id, handlungsfeld_id)
);
CREATE INDEX network_handlungsfelder_handlungsfeld ON network_handlungsfelder (handlungsfeld_id);

CREATE TABLE contracts (
    id TEXT PRIMARY KEY NOT NULL,
    network_id TEXT NOT NULL REFERENCES networks (id),
    kind TEXT NOT NULL,
    signed_on TEXT,
    signatories TEXT NOT NULL,
    document_url TEXT,
    notes TEXT,
    sources TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX contracts_network ON contracts (network_id);
CREATE INDEX contracts_updated_at ON contracts (updated_at, id);

CREATE TABLE contract_handlungsfelder (
    contract_id TEXT NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    handlungsfeld_id TEXT NOT NULL REFERENCES handlungsfelder (id),
    position INTEGER NOT NULL,
    PRIMARY KEY (contract_id, handlungsfeld_id)
);
CREATE INDEX contract_handlungsfelder_handlungsfeld ON contract_handlungsfelder (handlungsfeld_id);

CREATE TABLE bodies (
    id TEXT PRIMARY KEY NOT NULL,
    network_id TEXT NOT NULL REFERENCES networks (id),
    body_type TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT,
    address TEXT,
    email TEXT,
    phone TEXT,
    website TEXT,
    sources TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX bodies_network ON bodies (network_id);
CREATE INDEX bodies_updated_at ON bodies (updated_at, id);

CREATE TABLE contacts (
    id TEXT PRIMARY KEY NOT NULL,
    network_id TEXT REFERENCES networks (id),
    body_id TEXT REFERENCES bodies (id),
    district_key INTEGER REFERENCES districts (key),
    name TEXT NOT NULL,
    function TEXT,
    organisation TEXT,
    email TEXT,
    phone TEXT,
    address TEXT,
    visibility TEXT NOT NULL,
    is_person INTEGER NOT NULL,
    publication_consent INTEGER NOT NULL,
    sources TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX contacts_network ON contacts (network_id);
CREATE INDEX contacts_body ON contacts (body_id);
CREATE INDEX contacts_updated_at ON contacts (updated_at, id);

-- The latest change of every record, tombstones included: the change feed and the source of
-- tombstones in `modifiedSince` lists. `seq` grows with every write (writers are serialised).
CREATE TABLE changes (
    resource_id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    seq BIGINT NOT NULL UNIQUE,
    updated_at TIMESTAMP NOT NULL,
    deleted INTEGER NOT NULL
);
CREATE INDEX changes_kind_updated_at ON changes (kind, updated_at, resource_id);

-- One row that every write transaction updates first: it serialises writers on both backends, so
-- change sequence numbers commit in order and If-Match checks cannot race.
CREATE TABLE write_lock (
    id INTEGER PRIMARY KEY NOT NULL,
    writes BIGINT NOT NULL
);
INSERT INTO write_lock (id, writes) VALUES (1, 0);

-- API keys: only a SHA-256 hash of the secret is stored.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    district_key INTEGER REFERENCES districts (key),
    network_ids TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP,
    revoked_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Every write, appended in the write's own transaction. Field names only, never values.
CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY NOT NULL,
    id TEXT NOT NULL UNIQUE,
    at TIMESTAMP NOT NULL,
    key_id TEXT,
    key_name TEXT,
    request_id TEXT,
    kind TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    action TEXT NOT NULL,
    changed_fields TEXT NOT NULL
);
CREATE INDEX audit_log_resource ON audit_log (resource_id);

INSERT INTO districts (key, id, name, authority, created_at, updated_at) VALUES
    (1, '9d086e17-8b7d-50ec-b8ad-c68e76764560', 'Düsseldorf', 'Bezirksregierung Düsseldorf', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    (3, 'a6c0f986-4d85-545d-a7e6-36aaf8610bd0', 'Köln', 'Bezirksregierung Köln', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    (5, 'e74264b5-79f2-5301-8e7d-b8c17738d179', 'Münster', 'Bezirksregierung Münster', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    (7, 'af1035f3-12ea-5f3a-b4d6-c62c4d9416e0', 'Detmold', 'Bezirksregierung Detmold', '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    (9, '3794d35b-3ce3-511b-bef0-48a1f8082243', 'Arnsberg', 'Bezirksregierung Arnsberg', '2026-11-21 00:00:00', '2026-11-21 00:00:00');

INSERT INTO regions (key, id, ars, name, kind, district_key, created_at, updated_at) VALUES
    ('05111', 'bead9045-f702-5dcc-841a-e3e43d7ed2e3', '051110000000', 'Düsseldorf', 'kreisfreie_stadt', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05112', 'c32848ca-98bd-5d36-8b1b-797d3d9e99a1', '051120000000', 'Duisburg', 'kreisfreie_stadt', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05113', '6134c9de-7165-50f9-bcce-7aa1e6b240d6', '051130000000', 'Essen', 'kreisfreie_stadt', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05114', 'b3846533-9acd-539a-877b-82303289e138', '051140000000', 'Krefeld', 'kreisfreie_stadt', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05116', 'd23178ff-55d2-5fec-a1c6-33a401968724', '051160000000', 'Mönchengladbach', 'kreisfreie_stadt', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05117', '37be8cf6-7cc4-50c1-8331-82976add597c', '051170000000', 'Mülheim an der Ruhr', 'kreisfreie_stadt', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05119', '4572f4ca-f8f4-50e7-bc12-0ce7c1f4a81b', '051190000000', 'Oberhausen', 'kreisfreie_stadt', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05120', '009af139-0c8d-5834-baee-33f05fae8d7f', '051200000000', 'Remscheid', 'kreisfreie_stadt', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05122', '5da09372-49bc-53a3-bfda-b08cf422f7fa', '051220000000', 'Solingen', 'kreisfreie_stadt', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05124', '979f3a80-140e-546b-8aec-ac51de64f1cf', '051240000000', 'Wuppertal', 'kreisfreie_stadt', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05154', 'c28af7de-fb77-5b6e-85ce-47da6a521cb4', '051540000000', 'Kreis Kleve', 'kreis', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05158', '47718c71-0c0f-5314-a5c2-7cceb1c582e0', '051580000000', 'Kreis Mettmann', 'kreis', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05162', '6c736e71-6aac-5e9b-8af6-2d751a207172', '051620000000', 'Rhein-Kreis Neuss', 'kreis', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05166', '716edbbc-9298-5b9e-be7b-1b25212d600f', '051660000000', 'Kreis Viersen', 'kreis', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05170', '921620de-d4fd-59e6-b414-de17fb00de63', '051700000000', 'Kreis Wesel', 'kreis', 1, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05314', '0bd153b1-9017-52f8-83ef-366b348b9cf2', '053140000000', 'Bonn', 'kreisfreie_stadt', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05315', '5074bf2f-5b78-5543-90da-d774130d6534', '053150000000', 'Köln', 'kreisfreie_stadt', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05316', '121a0428-3610-50c4-99e1-d01b746da4a9', '053160000000', 'Leverkusen', 'kreisfreie_stadt', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05334', '0ecf2893-01e0-5f28-8282-7ce109da8ec5', '053340000000', 'StädteRegion Aachen', 'staedteregion', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05358', 'e5f7bcf0-a6ba-53ba-8824-7dbbcc17de64', '053580000000', 'Kreis Düren', 'kreis', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05362', 'c610d763-35af-5f09-b63f-89ed9f168080', '053620000000', 'Rhein-Erft-Kreis', 'kreis', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05366', 'c727a135-fdc7-5e2b-81ae-9a8c10354afb', '053660000000', 'Kreis Euskirchen', 'kreis', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05370', '7356e03e-0d05-5b34-aba7-4375d0f3ee17', '053700000000', 'Kreis Heinsberg', 'kreis', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05374', '2c24d980-31c0-5607-a5cc-c4fcb451f3ea', '053740000000', 'Oberbergischer Kreis', 'kreis', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05378', '066d57d0-0e97-5d8d-b45f-370885166e41', '053780000000', 'Rheinisch-Bergischer Kreis', 'kreis', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05382', '38ce6aa9-0ead-50d3-9333-83c387e818a9', '053820000000', 'Rhein-Sieg-Kreis', 'kreis', 3, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05512', 'fbea5bd2-3283-5a7c-b56d-720fa2f2d439', '055120000000', 'Bottrop', 'kreisfreie_stadt', 5, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05513', '0f83b37e-74d8-5b78-9496-80faa9a4d231', '055130000000', 'Gelsenkirchen', 'kreisfreie_stadt', 5, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05515', '8ef62644-9bf2-5d81-8f84-4ab0eaad471d', '055150000000', 'Münster', 'kreisfreie_stadt', 5, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05554', '513e1e81-8acd-55fd-ac66-8576f3d683ad', '055540000000', 'Kreis Borken', 'kreis', 5, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05558', 'ac75cdb5-358a-5cb2-86e2-531bf669ba3b', '055580000000', 'Kreis Coesfeld', 'kreis', 5, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05562', 'c4494485-3473-563e-8106-22e146b724a7', '055620000000', 'Kreis Recklinghausen', 'kreis', 5, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05566', '058940d1-a6d5-5cbf-a024-31f99c150143', '055660000000', 'Kreis Steinfurt', 'kreis', 5, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05570', '20d92ba0-d2d1-5824-a61a-53504567ce00', '055700000000', 'Kreis Warendorf', 'kreis', 5, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05711', 'a1871777-6ee2-55f3-8431-d04b234aaf34', '057110000000', 'Bielefeld', 'kreisfreie_stadt', 7, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05754', 'a4960b57-c0b8-502e-b7b3-0a7db944ab26', '057540000000', 'Kreis Gütersloh', 'kreis', 7, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05758', 'b8f75ff1-3774-5422-a9b9-4d07f5f999b6', '057580000000', 'Kreis Herford', 'kreis', 7, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05762', 'fdd334a5-194d-5652-b53b-9d91e2fca3ef', '057620000000', 'Kreis Höxter', 'kreis', 7, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05766', '0e012be6-c302-5cba-bdce-9acbf091a283', '057660000000', 'Kreis Lippe', 'kreis', 7, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05770', '72afa3f1-c5e8-5c7e-929a-676e5704336a', '057700000000', 'Kreis Minden-Lübbecke', 'kreis', 7, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05774', 'c7ee05c4-6dc5-5c04-aae9-0d21af3bf469', '057740000000', 'Kreis Paderborn', 'kreis', 7, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05911', 'b06b58a8-8a0e-54e1-9bde-9a63d9fce79b', '059110000000', 'Bochum', 'kreisfreie_stadt', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05913', '418410c9-ee97-564f-bd92-b54fe955f18c', '059130000000', 'Dortmund', 'kreisfreie_stadt', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05914', '9caaa642-08ee-5251-8e4e-eb0ace7cab1d', '059140000000', 'Hagen', 'kreisfreie_stadt', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05915', '24fc7f55-fd79-59fd-89f4-4a0e341701d4', '059150000000', 'Hamm', 'kreisfreie_stadt', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05916', 'b09c38e3-4167-5eb7-b61a-da697a9cfa01', '059160000000', 'Herne', 'kreisfreie_stadt', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05954', '7dd58651-21c1-5f0d-a45d-8a82b5437caa', '059540000000', 'Ennepe-Ruhr-Kreis', 'kreis', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05958', '5825e665-50e8-5b28-bd21-688c913dc761', '059580000000', 'Hochsauerlandkreis', 'kreis', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05962', '5ae275fb-f1e5-5f3a-a182-130da07947c6', '059620000000', 'Märkischer Kreis', 'kreis', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05966', '66506950-222b-5830-b0cf-75070d1383f7', '059660000000', 'Kreis Olpe', 'kreis', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05970', 'c955598b-0a83-561c-9edb-d97f3ca2cecd', '059700000000', 'Kreis Siegen-Wittgenstein', 'kreis', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05974', 'd23d5eac-1808-55ea-bfcb-e732ab6e3c11', '059740000000', 'Kreis Soest', 'kreis', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00'),
    ('05978', 'b384c198-a6a5-5fc8-bfcb-6c8bd49a9a96', '059780000000', 'Kreis Unna', 'kreis', 9, '2026-11-21 00:00:00', '2026-11-21 00:00:00');
