"""Uploaded files: local disk or an S3 bucket, and image checks."""
