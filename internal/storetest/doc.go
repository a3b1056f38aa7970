// Package storetest is the conformance suite that every implementation of Rotor's store contracts (idp.UserStore, idp.ClientStore, idp.RefreshStore, keys.Store, keys.Watcher) must pass.
package storetest
