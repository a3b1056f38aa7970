package sqlite

// The statements the index tests explain, as the store runs them.
var (
	RefreshStateSQL  = refreshStateSQL
	PurgeSQL         = purgeSQL
	LimitFamiliesSQL = limitFamiliesSQL
)
