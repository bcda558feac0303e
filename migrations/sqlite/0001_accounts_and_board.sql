-- The board's data model (DATA_MODEL.md) on SQLite, the embedded default. Same tables and columns as
-- migrations/mysql (a test compares them). Ids are INTEGER PRIMARY KEY so that SQLite assigns them.
-- Timestamps are written by the application (RFC 3339, UTC, microseconds), never CURRENT_TIMESTAMP.
-- SQLite does not enforce VARCHAR lengths: the length rules live in the domain.
--
-- Additions to the ERD, as in migrations/mysql:
--   user.name_key            lower-cased name (Unicode folding done by the application); UNIQUE
--   refresh_session          hashed refresh tokens, their rotation family and revocation
--   category (parent_id, name) UNIQUE   "unique among siblings" (roots are checked by the application: NULLs never collide)
--   post_content / comment_content (…_id, version) UNIQUE
--   indexes on every foreign key and on logged_in (user_id, id)

CREATE TABLE role (
    id INTEGER PRIMARY KEY,
    name VARCHAR(50) NOT NULL UNIQUE
);

CREATE TABLE user (
    id INTEGER PRIMARY KEY,
    name VARCHAR(30) NULL UNIQUE,
    name_key VARCHAR(30) NULL UNIQUE,
    password VARCHAR(100) NULL,
    email VARCHAR(254) NULL UNIQUE,
    created_datetime DATETIME NOT NULL,
    role_id BIGINT NULL REFERENCES role (id)
);

CREATE TABLE state (
    id INTEGER PRIMARY KEY,
    name VARCHAR(50) NOT NULL UNIQUE
);

CREATE TABLE user_state (
    user_id BIGINT NOT NULL REFERENCES user (id),
    state_id BIGINT NOT NULL REFERENCES state (id),
    detail VARCHAR(500) NULL,
    created_datetime DATETIME NOT NULL,
    PRIMARY KEY (user_id, state_id)
);

CREATE TABLE logged_in (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES user (id),
    created_datetime DATETIME NOT NULL
);
CREATE INDEX ix_logged_in_user ON logged_in (user_id, id);

CREATE TABLE refresh_session (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES user (id),
    family_id VARCHAR(36) NOT NULL,
    token_hash CHAR(64) NOT NULL UNIQUE,
    created_datetime DATETIME NOT NULL,
    expires_datetime DATETIME NOT NULL,
    rotated_datetime DATETIME NULL,
    revoked_datetime DATETIME NULL
);
CREATE INDEX ix_refresh_session_family ON refresh_session (family_id);
CREATE INDEX ix_refresh_session_user ON refresh_session (user_id);

CREATE TABLE category (
    id INTEGER PRIMARY KEY,
    tier INT NOT NULL,
    name VARCHAR(50) NOT NULL,
    parent_id BIGINT NULL REFERENCES category (id),
    UNIQUE (parent_id, name)
);

CREATE TABLE post (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES user (id),
    category_id BIGINT NOT NULL REFERENCES category (id),
    created_datetime DATETIME NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX ix_post_user ON post (user_id);
CREATE INDEX ix_post_category ON post (category_id);

CREATE TABLE post_content (
    id INTEGER PRIMARY KEY,
    version INT NOT NULL DEFAULT 0,
    created_datetime DATETIME NOT NULL,
    title VARCHAR(200) NOT NULL,
    content TEXT NOT NULL,
    post_id BIGINT NOT NULL REFERENCES post (id),
    UNIQUE (post_id, version)
);

CREATE TABLE voter_post (
    user_id BIGINT NOT NULL REFERENCES user (id),
    post_id BIGINT NOT NULL REFERENCES post (id),
    PRIMARY KEY (user_id, post_id)
);
CREATE INDEX ix_voter_post_post ON voter_post (post_id);

CREATE TABLE comment (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES user (id),
    post_id BIGINT NOT NULL REFERENCES post (id),
    created_datetime DATETIME NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE INDEX ix_comment_user ON comment (user_id);
CREATE INDEX ix_comment_post ON comment (post_id, id);

CREATE TABLE comment_content (
    id INTEGER PRIMARY KEY,
    version INT NOT NULL DEFAULT 0,
    created_datetime DATETIME NOT NULL,
    content TEXT NOT NULL,
    comment_id BIGINT NOT NULL REFERENCES comment (id),
    UNIQUE (comment_id, version)
);

CREATE TABLE voter_comment (
    user_id BIGINT NOT NULL REFERENCES user (id),
    comment_id BIGINT NOT NULL REFERENCES comment (id),
    PRIMARY KEY (user_id, comment_id)
);
CREATE INDEX ix_voter_comment_comment ON voter_comment (comment_id);

INSERT INTO role (id, name) VALUES (1, 'admin'), (2, 'user');
INSERT INTO state (id, name) VALUES (1, 'blocked'), (2, 'inactive');
INSERT INTO category (id, tier, name, parent_id) VALUES
    (1, 1, 'qna', NULL),
    (2, 1, 'community', NULL),
    (3, 2, 'tech', 1),
    (4, 2, 'career', 1),
    (5, 2, 'life', 2),
    (6, 2, 'news', 2);
