// Command rotor is Rotor's one binary: the server and its admin commands.
package main
