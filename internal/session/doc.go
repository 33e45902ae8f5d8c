// Package session is the serving process of a mount: what a `kmsfs mount`
// process holds and serves besides the FUSE filesystem itself.
//
// # What it owns
//
//   - Keyring ownership ([ReachKeyring]): the first process to need a
//     keyring opens it and serves it on the keyring socket (package kmsapi)
//     for the command line and for other mounts; later ones reach it
//     through that socket. An owned keyring runs a rotation ticker
//     ([StartRotation]) so that automatic rotation happens while it is
//     served, whether or not its keys are used.
//   - The key service the filesystem holds ([VolumeKeys]): unwrap under the
//     version a header names, wrap new files under the volume key, which
//     `kmsfs rewrap --key` can switch while mounted.
//   - The control socket of a mount ([ServeControl], [MountControl],
//     [DialControl]): how `kmsfs rewrap` reaches a mounted tree, so that the
//     mount's open files are never rewritten behind its back. Its client
//     checks the server's peer credentials as the keyring client does.
//   - The registry of known volumes ([RegisterVolume], [KnownVolumes]),
//     which `kmsfs key min-version` scans before retiring a key version, and
//     the kernel's mount table ([Mounts], [MountOf]).
//
// # What it refuses
//
// It reads no flags and prints nothing (package main does), and runs no
// whole-tree job (package maintain does).
package session
