// Command gzip is the gzip of the OLM test's opm image: operator-sdk's
// `run bundle` decompresses the catalog in an init container with
// `cat FILE | gzip -d -c > OUT`, and no gzip built from pinned Go source
// accepts that (u-root's refuses standard input without -f). It only
// decompresses: `gzip -d -c [FILE...]` writes the data to standard output.
package main

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gzip:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	decompress, toStdout := false, false
	var files []string
	for _, a := range args {
		switch a {
		case "-d", "--decompress":
			decompress = true
		case "-c", "--stdout":
			toStdout = true
		case "-dc", "-cd":
			decompress, toStdout = true, true
		default:
			files = append(files, a)
		}
	}
	if !decompress || !toStdout {
		return errors.New("only decompression to standard output is supported: gzip -d -c [FILE...]")
	}
	if len(files) == 0 {
		return copyGunzip(stdout, stdin)
	}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		err = copyGunzip(stdout, f)
		_ = f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

func copyGunzip(w io.Writer, r io.Reader) error {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, zr); err != nil {
		return err
	}
	return zr.Close()
}
