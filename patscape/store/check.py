"""The consistency check: counts of rows that should not exist (all zero in a healthy store)."""

from __future__ import annotations

from .jobs import JobRepository


class CheckRepository(JobRepository):
    """Rows without their document, space or run, and upload folders without an active job."""

    def check(self) -> dict[str, int]:
        """Counts of rows that should not exist (all zero in a healthy store): vectors, passages,
        index rows and placements without their document or space, documents missing from the
        keyword index, vectors of an older text, and run points and topic names of a missing run."""
        queries = {
            "vectors_without_document": "SELECT COUNT(*) FROM vectors WHERE doc_id NOT IN (SELECT id FROM documents)",
            "vectors_of_old_text": "SELECT COUNT(*) FROM vectors v JOIN documents d ON d.id = v.doc_id "
                                   "WHERE v.content_hash IS NOT d.content_hash",
            "passages_without_vector": "SELECT COUNT(*) FROM passages p WHERE NOT EXISTS "
                                       "(SELECT 1 FROM vectors v WHERE v.space = p.space AND v.doc_id = p.doc_id)",
            "index_rows_without_document": "SELECT COUNT(*) FROM documents_fts WHERE id NOT IN (SELECT id FROM documents)",
            "documents_without_index_row": "SELECT COUNT(*) FROM documents WHERE id NOT IN (SELECT id FROM documents_fts)",
            "duplicate_index_rows": "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM documents_fts GROUP BY id)",
            "run_points_without_run": "SELECT COUNT(*) FROM run_points WHERE run_id NOT IN (SELECT id FROM runs)",
            "topics_without_run": "SELECT COUNT(*) FROM topics WHERE run_id NOT IN (SELECT id FROM runs)",
            "placements_without_document": "SELECT COUNT(*) FROM serve_placements WHERE doc_id NOT IN (SELECT id FROM documents)",
            "placements_without_run": "SELECT COUNT(*) FROM serve_placements WHERE run_id NOT IN (SELECT id FROM runs)",
            "topic_names_without_run": "SELECT COUNT(*) FROM topic_names WHERE run_id NOT IN (SELECT id FROM runs)",
            "runs_without_points": "SELECT COUNT(*) FROM runs WHERE id NOT IN (SELECT run_id FROM run_points)",
        }
        found = {name: int(self.db.execute(sql).fetchone()[0]) for name, sql in queries.items()}
        folder = self.uploads_dir()
        active = {row[0] for row in self.db.execute("SELECT id FROM jobs WHERE state IN ('queued', 'running')")}
        found["upload_folders_without_job"] = (
            sum(1 for p in folder.iterdir() if p.name not in active) if folder.is_dir() else 0
        )
        return found
