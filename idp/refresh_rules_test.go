package idp

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDecideRefresh(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	fam := Family{ID: "fam", ClientID: "app", Subject: "u1", Scope: "read write", CreatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour)}
	tok := RefreshToken{Hash: []byte("h1"), FamilyID: "fam", IssuedAt: t0}
	spent := tok
	spent.SpentAt = t0.Add(time.Minute)
	succ := &RefreshToken{Hash: []byte("h2"), FamilyID: "fam", Parent: []byte("h1"), IssuedAt: spent.SpentAt}
	succSpent := *succ
	succSpent.SpentAt = t0.Add(2 * time.Minute)
	newHash := []byte("h3")

	revoked := fam
	revoked.RevokedAt = t0.Add(time.Second)

	tests := []struct {
		name        string
		st          RefreshState
		req         refreshRequest
		want        RefreshUpdate
		wantRefusal error
	}{
		{
			name: "unspent token rotates",
			st:   RefreshState{Family: fam, Token: tok},
			req:  refreshRequest{clientID: "app", now: t0.Add(time.Hour), newHash: newHash},
			want: RefreshUpdate{SpendToken: t0.Add(time.Hour), Issue: &RefreshToken{Hash: newHash, FamilyID: "fam", Parent: tok.Hash, IssuedAt: t0.Add(time.Hour)}},
		},
		{
			name:        "another client's token changes nothing",
			st:          RefreshState{Family: fam, Token: tok},
			req:         refreshRequest{clientID: "other", now: t0.Add(time.Hour), newHash: newHash},
			wantRefusal: errRefreshWrongClient,
		},
		{
			name:        "revoked family",
			st:          RefreshState{Family: revoked, Token: tok},
			req:         refreshRequest{clientID: "app", now: t0.Add(time.Hour), newHash: newHash},
			wantRefusal: errRefreshRevoked,
		},
		{
			name:        "disabled user: refused, and the family revoked",
			st:          RefreshState{Family: fam, Token: tok, UserDisabled: true},
			req:         refreshRequest{clientID: "app", now: t0.Add(time.Hour), newHash: newHash},
			want:        RefreshUpdate{RevokeAt: t0.Add(time.Hour), RevokeReason: "user_disabled"},
			wantRefusal: errRefreshUserOff,
		},
		{
			name:        "expired family, at the exact expiry",
			st:          RefreshState{Family: fam, Token: tok},
			req:         refreshRequest{clientID: "app", now: fam.ExpiresAt, newHash: newHash},
			wantRefusal: errRefreshExpired,
		},
		{
			name:        "spent token revokes the family",
			st:          RefreshState{Family: fam, Token: spent, Successor: succ},
			req:         refreshRequest{clientID: "app", now: t0.Add(time.Hour), newHash: newHash},
			want:        RefreshUpdate{RevokeAt: t0.Add(time.Hour), RevokeReason: "refresh_token_reuse"},
			wantRefusal: errRefreshReused,
		},
		{
			name: "retry within the reuse interval replaces the unused successor",
			st:   RefreshState{Family: fam, Token: spent, Successor: succ},
			req:  refreshRequest{clientID: "app", now: spent.SpentAt.Add(5 * time.Second), reuseInterval: 10 * time.Second, newHash: newHash},
			want: RefreshUpdate{SpendSuccessor: spent.SpentAt.Add(5 * time.Second), Issue: &RefreshToken{Hash: newHash, FamilyID: "fam", Parent: tok.Hash, IssuedAt: spent.SpentAt.Add(5 * time.Second)}},
		},
		{
			name:        "retry after the reuse interval revokes",
			st:          RefreshState{Family: fam, Token: spent, Successor: succ},
			req:         refreshRequest{clientID: "app", now: spent.SpentAt.Add(11 * time.Second), reuseInterval: 10 * time.Second, newHash: newHash},
			want:        RefreshUpdate{RevokeAt: spent.SpentAt.Add(11 * time.Second), RevokeReason: "refresh_token_reuse"},
			wantRefusal: errRefreshReused,
		},
		{
			name:        "retry within the interval after the successor was used revokes",
			st:          RefreshState{Family: fam, Token: spent, Successor: &succSpent},
			req:         refreshRequest{clientID: "app", now: spent.SpentAt.Add(5 * time.Second), reuseInterval: 10 * time.Second, newHash: newHash},
			want:        RefreshUpdate{RevokeAt: spent.SpentAt.Add(5 * time.Second), RevokeReason: "refresh_token_reuse"},
			wantRefusal: errRefreshReused,
		},
		{
			name: "narrower scope is fine",
			st:   RefreshState{Family: fam, Token: tok},
			req:  refreshRequest{clientID: "app", scope: []string{"read"}, now: t0.Add(time.Hour), newHash: newHash},
			want: RefreshUpdate{SpendToken: t0.Add(time.Hour), Issue: &RefreshToken{Hash: newHash, FamilyID: "fam", Parent: tok.Hash, IssuedAt: t0.Add(time.Hour)}},
		},
		{
			name:        "wider scope is refused without spending",
			st:          RefreshState{Family: fam, Token: tok},
			req:         refreshRequest{clientID: "app", scope: []string{"read", "admin"}, now: t0.Add(time.Hour), newHash: newHash},
			wantRefusal: errInvalidScope(""),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decideRefresh(tt.st, tt.req)
			got, refusal := d.Update, d.Refusal
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("update (-want +got):\n%s", diff)
			}
			var wantOE *oauthError
			if errors.As(tt.wantRefusal, &wantOE) {
				var oe *oauthError
				if !errors.As(refusal, &oe) || oe.Code != wantOE.Code {
					t.Errorf("refusal = %v, want %s", refusal, wantOE.Code)
				}
				return
			}
			if !errors.Is(refusal, tt.wantRefusal) {
				t.Errorf("refusal = %v, want %v", refusal, tt.wantRefusal)
			}
		})
	}
}
