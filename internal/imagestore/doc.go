// Package imagestore keeps the bytes of question images, content-addressed
// (the id is domain.ImageID of the bytes): File in the embedded mode's data
// directory, Postgres for replicas that share no disk. Both implement the
// port the write side declares (commands.ImageStore: Put) and the one the
// HTTP layer reads through (api.ImageSource: Get, Exists).
//
// It is neither the event store nor a projection: the log records that an
// image was uploaded (image.uploaded.v1, appended after the bytes are
// stored), and the write side decides from the log whether an image exists;
// rebuilding the read models never touches these bytes.
package imagestore
