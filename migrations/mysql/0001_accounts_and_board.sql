-- The board's data model (DATA_MODEL.md) on MariaDB 10.6+: InnoDB, utf8mb4, DATETIME(6), UTC.
--
-- Collations: text that must be unique uses utf8mb4_bin (byte-wise), because utf8mb4_unicode_ci /
-- utf8mb4_general_ci compare distinct emoji as equal. "Unique ignoring case" for user names is enforced on
-- user.name_key, which the application fills with the Unicode lower-case of the NFC name, so MariaDB and
-- SQLite (whose NOCASE folds ASCII only) agree for every script.
--
-- Additions to the ERD (all serve it; none changes it):
--   user.name_key            lower-cased name; UNIQUE; NULL after resign, like name
--   refresh_session          hashed refresh tokens, their rotation family and revocation
--   category (parent_id, name) UNIQUE   "unique among siblings" (roots are checked by the application: NULLs never collide)
--   post_content / comment_content (…_id, version) UNIQUE   gap-free version history
--   indexes on every foreign key and on logged_in (user_id, id) for a user's login history

CREATE TABLE role (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(50) NOT NULL,
    CONSTRAINT uk_role_name UNIQUE (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE `user` (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(30) NULL,
    name_key VARCHAR(30) NULL,
    password VARCHAR(100) NULL,
    email VARCHAR(254) NULL,
    created_datetime DATETIME(6) NOT NULL,
    role_id BIGINT NULL,
    CONSTRAINT uk_user_name UNIQUE (name),
    CONSTRAINT uk_user_name_key UNIQUE (name_key),
    CONSTRAINT uk_user_email UNIQUE (email),
    CONSTRAINT fk_user_role FOREIGN KEY (role_id) REFERENCES role (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE state (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(50) NOT NULL,
    CONSTRAINT uk_state_name UNIQUE (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE user_state (
    user_id BIGINT NOT NULL,
    state_id BIGINT NOT NULL,
    detail VARCHAR(500) NULL,
    created_datetime DATETIME(6) NOT NULL,
    PRIMARY KEY (user_id, state_id),
    CONSTRAINT fk_user_state_user FOREIGN KEY (user_id) REFERENCES `user` (id),
    CONSTRAINT fk_user_state_state FOREIGN KEY (state_id) REFERENCES state (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE logged_in (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    created_datetime DATETIME(6) NOT NULL,
    KEY ix_logged_in_user (user_id, id),
    CONSTRAINT fk_logged_in_user FOREIGN KEY (user_id) REFERENCES `user` (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE refresh_session (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    family_id VARCHAR(36) NOT NULL,
    token_hash CHAR(64) NOT NULL,
    created_datetime DATETIME(6) NOT NULL,
    expires_datetime DATETIME(6) NOT NULL,
    rotated_datetime DATETIME(6) NULL,
    revoked_datetime DATETIME(6) NULL,
    CONSTRAINT uk_refresh_session_token UNIQUE (token_hash),
    KEY ix_refresh_session_family (family_id),
    KEY ix_refresh_session_user (user_id),
    CONSTRAINT fk_refresh_session_user FOREIGN KEY (user_id) REFERENCES `user` (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE category (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tier INT NOT NULL,
    name VARCHAR(50) NOT NULL,
    parent_id BIGINT NULL,
    CONSTRAINT uk_category_sibling_name UNIQUE (parent_id, name),
    CONSTRAINT fk_category_parent FOREIGN KEY (parent_id) REFERENCES category (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE post (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    category_id BIGINT NOT NULL,
    created_datetime DATETIME(6) NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    KEY ix_post_user (user_id),
    KEY ix_post_category (category_id),
    CONSTRAINT fk_post_user FOREIGN KEY (user_id) REFERENCES `user` (id),
    CONSTRAINT fk_post_category FOREIGN KEY (category_id) REFERENCES category (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE post_content (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    version INT NOT NULL DEFAULT 0,
    created_datetime DATETIME(6) NOT NULL,
    title VARCHAR(200) NOT NULL,
    content TEXT NOT NULL,
    post_id BIGINT NOT NULL,
    CONSTRAINT uk_post_content_version UNIQUE (post_id, version),
    CONSTRAINT fk_post_content_post FOREIGN KEY (post_id) REFERENCES post (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE voter_post (
    user_id BIGINT NOT NULL,
    post_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, post_id),
    KEY ix_voter_post_post (post_id),
    CONSTRAINT fk_voter_post_user FOREIGN KEY (user_id) REFERENCES `user` (id),
    CONSTRAINT fk_voter_post_post FOREIGN KEY (post_id) REFERENCES post (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE comment (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    post_id BIGINT NOT NULL,
    created_datetime DATETIME(6) NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    KEY ix_comment_user (user_id),
    KEY ix_comment_post (post_id, id),
    CONSTRAINT fk_comment_user FOREIGN KEY (user_id) REFERENCES `user` (id),
    CONSTRAINT fk_comment_post FOREIGN KEY (post_id) REFERENCES post (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE comment_content (
    id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    version INT NOT NULL DEFAULT 0,
    created_datetime DATETIME(6) NOT NULL,
    content TEXT NOT NULL,
    comment_id BIGINT NOT NULL,
    CONSTRAINT uk_comment_content_version UNIQUE (comment_id, version),
    CONSTRAINT fk_comment_content_comment FOREIGN KEY (comment_id) REFERENCES comment (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE voter_comment (
    user_id BIGINT NOT NULL,
    comment_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, comment_id),
    KEY ix_voter_comment_comment (comment_id),
    CONSTRAINT fk_voter_comment_user FOREIGN KEY (user_id) REFERENCES `user` (id),
    CONSTRAINT fk_voter_comment_comment FOREIGN KEY (comment_id) REFERENCES comment (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO role (id, name) VALUES (1, 'admin'), (2, 'user');
INSERT INTO state (id, name) VALUES (1, 'blocked'), (2, 'inactive');
INSERT INTO category (id, tier, name, parent_id) VALUES
    (1, 1, 'qna', NULL),
    (2, 1, 'community', NULL),
    (3, 2, 'tech', 1),
    (4, 2, 'career', 1),
    (5, 2, 'life', 2),
    (6, 2, 'news', 2);
