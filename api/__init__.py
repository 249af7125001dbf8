"""The nlp_guard HTTP service (the ``api`` extra): FastAPI app, storage, audit log and contact gate."""
