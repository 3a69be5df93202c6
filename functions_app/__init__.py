"""Azure Function: turns a blob upload into one transcode job."""
