-- Keypair imports are recorded by keypair name, not by user: the balancer's and the
-- regional services' keypairs are nobody's login. A user's record still goes when the
-- user is removed (as the cascade did), so a re-enrolled user's key is imported again.
CREATE TABLE keypair_imports (
    name        TEXT NOT NULL,
    region      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    PRIMARY KEY (name, region)
);
INSERT INTO keypair_imports(name, region, fingerprint, imported_at)
    SELECT user, region, fingerprint, imported_at FROM ssh_key_imports;
DROP TABLE ssh_key_imports;
CREATE TRIGGER users_rm_keypair_imports AFTER DELETE ON users
BEGIN DELETE FROM keypair_imports WHERE name = OLD.name; END;
