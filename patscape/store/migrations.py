"""The store's schema: named, append-only migrations, applied in order when a store opens.

A store created by any earlier version opens unchanged: the ``migrations`` table names the steps
already applied, and only the missing ones run (each in its own write transaction). Never edit
a migration that has shipped; add a new one at the end.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import Connection

# Append-only: never edit a migration that has shipped, add a new one.
MIGRATIONS: list[tuple[str, str | tuple[str, ...]]] = [
    (
        "m001_initial",
        """
        CREATE TABLE documents (
            id TEXT PRIMARY KEY,
            content_hash TEXT NOT NULL,
            title TEXT NOT NULL DEFAULT '',
            abstract TEXT NOT NULL DEFAULT '',
            text TEXT NOT NULL DEFAULT '',
            lang TEXT,
            date TEXT,
            cpc TEXT NOT NULL DEFAULT '[]',
            ipc TEXT NOT NULL DEFAULT '[]',
            assignee TEXT,
            source TEXT,
            extra TEXT NOT NULL DEFAULT '{}',
            ingested_at REAL NOT NULL
        );
        CREATE INDEX documents_content_hash ON documents(content_hash);
        CREATE VIRTUAL TABLE documents_fts USING fts5(id UNINDEXED, body, tokenize='unicode61');
        CREATE TABLE spaces (
            key TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            dims INTEGER NOT NULL,
            params TEXT NOT NULL,
            created_at REAL NOT NULL
        );
        CREATE TABLE vectors (
            space TEXT NOT NULL REFERENCES spaces(key),
            doc_id TEXT NOT NULL,
            vector BLOB NOT NULL,
            n_chunks INTEGER NOT NULL,
            n_tokens INTEGER NOT NULL,
            truncated_tokens INTEGER NOT NULL,
            PRIMARY KEY (space, doc_id)
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            space TEXT NOT NULL REFERENCES spaces(key),
            created_at REAL NOT NULL,
            seed INTEGER NOT NULL,
            params TEXT NOT NULL,
            metrics TEXT NOT NULL,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE run_points (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            doc_id TEXT NOT NULL,
            cluster INTEGER NOT NULL,
            raw_cluster INTEGER NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            PRIMARY KEY (run_id, doc_id)
        );
        CREATE TABLE topics (
            run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
            cluster INTEGER NOT NULL,
            label TEXT NOT NULL,
            size INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (run_id, cluster)
        );
        """,
    ),
    (
        "m002_document_fields",
        """
        ALTER TABLE documents ADD COLUMN claims TEXT NOT NULL DEFAULT '';
        ALTER TABLE documents ADD COLUMN description TEXT NOT NULL DEFAULT ''
        """,
    ),
    (
        "m003_passages",
        """
        CREATE TABLE passages (
            space TEXT NOT NULL REFERENCES spaces(key),
            doc_id TEXT NOT NULL,
            field TEXT NOT NULL,
            char_start INTEGER NOT NULL,
            char_end INTEGER NOT NULL,
            vector BLOB NOT NULL,
            scale REAL NOT NULL
        );
        CREATE INDEX passages_doc ON passages(space, doc_id);
        ALTER TABLE vectors ADD COLUMN n_passages INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE vectors ADD COLUMN passage_tokens_cut INTEGER NOT NULL DEFAULT 0
        """,
    ),
    (
        "m004_integrity",
        """
        ALTER TABLE spaces ADD COLUMN completed_at REAL;
        UPDATE spaces SET completed_at = created_at WHERE NOT EXISTS (
            SELECT 1 FROM documents d WHERE NOT EXISTS (
                SELECT 1 FROM vectors v WHERE v.space = spaces.key AND v.doc_id = d.id));
        ALTER TABLE vectors ADD COLUMN content_hash TEXT;
        UPDATE vectors SET content_hash = (SELECT d.content_hash FROM documents d WHERE d.id = vectors.doc_id);
        CREATE TABLE IF NOT EXISTS serve_placements (
            run_id INTEGER NOT NULL,
            doc_id TEXT NOT NULL,
            cluster INTEGER NOT NULL,
            x REAL NOT NULL,
            y REAL NOT NULL,
            neighbours TEXT NOT NULL,
            placed_at REAL NOT NULL,
            PRIMARY KEY (run_id, doc_id)
        );
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL,
            created_at REAL NOT NULL,
            finished_at REAL,
            data TEXT NOT NULL
        )
        """,
    ),
    (
        # Every change to a space's vectors (and so to its passages, written with them) leaves a
        # row here, in the same transaction: the memory-mapped vector files and the ANN index
        # beside the store (patscape.vectors.disk) catch up from it. Triggers, so that no write
        # path can forget; statements given one by one because a trigger body holds semicolons.
        "m005_vector_log",
        (
            "CREATE TABLE vector_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, space TEXT NOT NULL, doc_id TEXT NOT NULL)",
            "CREATE INDEX vector_log_space ON vector_log(space, seq)",
            "CREATE TRIGGER vector_log_insert AFTER INSERT ON vectors BEGIN "
            "INSERT INTO vector_log (space, doc_id) VALUES (NEW.space, NEW.doc_id); END",
            "CREATE TRIGGER vector_log_update AFTER UPDATE ON vectors BEGIN "
            "INSERT INTO vector_log (space, doc_id) VALUES (NEW.space, NEW.doc_id); END",
            "CREATE TRIGGER vector_log_delete AFTER DELETE ON vectors BEGIN "
            "INSERT INTO vector_log (space, doc_id) VALUES (OLD.space, OLD.doc_id); END",
        ),
    ),
    (
        # What a search filter reads (patscape.store.filter_sql): indexes on the language and
        # the date, and every CPC and IPC code of a document as a row of doc_codes (exactly the
        # values json_each gives of the two JSON lists, so a prefix matches what it matched
        # before), indexed by code for a range scan. Kept by triggers, like vector_log, so that
        # no write path can forget; the insert trigger clears first because INSERT OR REPLACE
        # does not fire the delete trigger.
        "m006_filter_indexes",
        (
            # (with the id: a filter's join to the vector-file slots reads no document row)
            "CREATE INDEX documents_lang ON documents(lang, id)",
            "CREATE INDEX documents_date ON documents(date, id)",
            "CREATE TABLE doc_codes (doc_id TEXT NOT NULL, code TEXT NOT NULL, PRIMARY KEY (doc_id, code)) WITHOUT ROWID",
            "CREATE INDEX doc_codes_code ON doc_codes(code, doc_id)",
            # (a column that is not valid JSON counts as an empty list: a write never fails on it)
            "INSERT OR IGNORE INTO doc_codes (doc_id, code) SELECT d.id, CAST(j.value AS TEXT) FROM documents d, "
            "json_each(CASE WHEN json_valid(d.cpc) THEN d.cpc ELSE '[]' END) j WHERE j.value IS NOT NULL",
            "INSERT OR IGNORE INTO doc_codes (doc_id, code) SELECT d.id, CAST(j.value AS TEXT) FROM documents d, "
            "json_each(CASE WHEN json_valid(d.ipc) THEN d.ipc ELSE '[]' END) j WHERE j.value IS NOT NULL",
            "CREATE TRIGGER doc_codes_insert AFTER INSERT ON documents BEGIN "
            "DELETE FROM doc_codes WHERE doc_id = NEW.id; "
            "INSERT OR IGNORE INTO doc_codes (doc_id, code) SELECT NEW.id, CAST(value AS TEXT) "
            "FROM json_each(CASE WHEN json_valid(NEW.cpc) THEN NEW.cpc ELSE '[]' END) WHERE value IS NOT NULL; "
            "INSERT OR IGNORE INTO doc_codes (doc_id, code) SELECT NEW.id, CAST(value AS TEXT) "
            "FROM json_each(CASE WHEN json_valid(NEW.ipc) THEN NEW.ipc ELSE '[]' END) WHERE value IS NOT NULL; END",
            "CREATE TRIGGER doc_codes_update AFTER UPDATE OF id, cpc, ipc ON documents BEGIN "
            "DELETE FROM doc_codes WHERE doc_id = OLD.id; DELETE FROM doc_codes WHERE doc_id = NEW.id; "
            "INSERT OR IGNORE INTO doc_codes (doc_id, code) SELECT NEW.id, CAST(value AS TEXT) "
            "FROM json_each(CASE WHEN json_valid(NEW.cpc) THEN NEW.cpc ELSE '[]' END) WHERE value IS NOT NULL; "
            "INSERT OR IGNORE INTO doc_codes (doc_id, code) SELECT NEW.id, CAST(value AS TEXT) "
            "FROM json_each(CASE WHEN json_valid(NEW.ipc) THEN NEW.ipc ELSE '[]' END) WHERE value IS NOT NULL; END",
            "CREATE TRIGGER doc_codes_delete AFTER DELETE ON documents BEGIN "
            "DELETE FROM doc_codes WHERE doc_id = OLD.id; END",
        ),
    ),
    (
        # The levels of a run's topic hierarchy above its topics (patscape.landscape.hierarchy):
        # one row per node, level 0 the top; a topic's parent is in its own row's data.
        "m007_topic_nodes",
        (
            "CREATE TABLE topic_nodes (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
            "level INTEGER NOT NULL, node INTEGER NOT NULL, parent INTEGER, label TEXT NOT NULL, "
            "size INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, level, node))",
        ),
    ),
    (
        # The namer (patscape.naming): its answers cached by membership, and the names of each
        # run's topics per (level, node), with their source ('namer', 'fallback' = the keyword
        # label, 'analyst' = renamed by hand, never overwritten by a naming). Self-contained:
        # it relies on no migration after m006.
        "m008_topic_names",
        (
            "CREATE TABLE name_cache (key TEXT PRIMARY KEY, name TEXT NOT NULL, model TEXT NOT NULL, "
            "prompt_version TEXT NOT NULL, created_at REAL NOT NULL)",
            "CREATE TABLE topic_names (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
            "level INTEGER NOT NULL, node INTEGER NOT NULL, name TEXT NOT NULL, "
            "source TEXT NOT NULL CHECK (source IN ('namer', 'fallback', 'analyst')), reason TEXT, model TEXT, "
            "prompt_version TEXT, PRIMARY KEY (run_id, level, node))",
        ),
    ),
    (
        # Sub-topics (patscape.landscape.subtopics): the level below a run's topics. Their nodes
        # are rows of topic_nodes marked below = 1 (level: one more than the topics', parent: the
        # topic), so names and renames work on them as on every node; each document's sub-topic
        # is on its run_points row (NULL: none, its topic not split, or a run made before).
        "m009_subtopics",
        (
            "ALTER TABLE run_points ADD COLUMN subtopic INTEGER",
            "ALTER TABLE topic_nodes ADD COLUMN below INTEGER NOT NULL DEFAULT 0",
        ),
    ),
    (
        # Topic lineage (patscape.landscape.lineage): each event between a run and the run it was
        # aligned to, per level (the topics' level and the sub-topics' as the run numbers them).
        "m010_lineage",
        (
            "CREATE TABLE lineage (run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, "
            "parent_run INTEGER NOT NULL, level INTEGER NOT NULL, event TEXT NOT NULL, old TEXT NOT NULL, "
            "new TEXT NOT NULL, counts TEXT NOT NULL)",
            "CREATE INDEX lineage_run ON lineage(run_id, level)",
        ),
    ),
    (
        # Per-language means of a space, frozen once (patscape.store.centring): vectors read for
        # use are centred by their document's language; the stored vectors stay raw.
        "m011_space_means",
        (
            "CREATE TABLE space_means (space TEXT NOT NULL, lang TEXT NOT NULL, vector BLOB NOT NULL, "
            "docs INTEGER NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (space, lang))",
        ),
    ),
    (
        # Owners (patscape.owners): the analyst's alias file, owner name as written (or any name of
        # its key) -> organisation; read by every owner view.
        "m012_owner_aliases",
        ("CREATE TABLE IF NOT EXISTS owner_aliases (name TEXT PRIMARY KEY, organisation TEXT NOT NULL)",),
    ),
    (
        # Families inferred where the data gives none (patscape.families): document -> group key.
        "m013_inferred_families",
        ("CREATE TABLE IF NOT EXISTS inferred_families (doc_id TEXT PRIMARY KEY, family TEXT NOT NULL)",),
    ),
]


def migrate(store: Connection) -> None:
    """Apply the migrations the store has not seen yet (another process may apply them first)."""
    store.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at REAL)")
    done = {row[0] for row in store.db.execute("SELECT name FROM migrations")}
    for name, sql in MIGRATIONS:
        if name in done:
            continue
        with store.transaction("migrate"):
            if store.db.execute("SELECT 1 FROM migrations WHERE name = ?", (name,)).fetchone():
                continue  # another process applied it while this one waited
            for statement in sql.split(";") if isinstance(sql, str) else sql:
                if statement.strip():
                    store.db.execute(statement)
            store.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, time.time()))
