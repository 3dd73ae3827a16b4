// Package repocheck holds a test that keeps the repository self-contained:
// no file refers to a document or path outside the repository, and every
// relative link in the Markdown documents names a file or directory of the
// tree. It has no code of its own.
package repocheck
