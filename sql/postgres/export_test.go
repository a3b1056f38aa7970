package postgres

// The statements the index tests explain, as the store runs them.
var (
	StateQuery         = stateQuery
	LockStateQuery     = lockStateQuery
	LimitFamiliesQuery = limitFamiliesQuery
	SpendQuery         = spendQuery
	PurgeQueries       = map[string]string{
		purgeFamilies.table: purgeFamilies.query(),
		purgeSessions.table: purgeSessions.query(),
		purgeCodes.table:    purgeCodes.query(),
		purgeJTIs.table:     purgeJTIs.query(),
	}
)
