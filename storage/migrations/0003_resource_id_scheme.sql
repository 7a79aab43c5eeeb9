-- How each document's resource ids are derived (domain/resources.py). Rows stored before this
-- migration keep scheme 1 (their ids never change); new documents are written with scheme 2
-- (length-prefixed fields and the patient in the hash: no collisions). The default stays 1, so
-- a worker of the previous release, running during a rolling upgrade, is described truly.
-- depends: 0002_users

ALTER TABLE documents
    ADD COLUMN id_scheme smallint NOT NULL DEFAULT 1 CHECK (id_scheme IN (1, 2));
