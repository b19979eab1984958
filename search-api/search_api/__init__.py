"""The search API: uploads and "more like this" over Milvus, browsing, files and the frontend."""
