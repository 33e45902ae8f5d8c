package maintain

// Namer turns a cipher path (relative to the CIPHERDIR, as [Entry.Rel])
// into the path a person recognises. Every report of this package shows
// paths through one Namer, so that when names are encrypted, decrypting
// them for display happens in one place.
type Namer interface {
	Display(rel string) string
}

// PlainNames is the Namer of a volume whose names are stored as they are
// (volume.Config.PlaintextNames): the cipher path is the plaintext path.
type PlainNames struct{}

// Display returns rel unchanged.
func (PlainNames) Display(rel string) string { return rel }
