package privacy

import "testing"

func TestPass(t *testing.T) {
	f := Floor{MinConversations: 5, MinUsers: 3}
	for _, c := range []struct {
		convs, users float64
		known, want  bool
	}{
		{5, 3, true, true},
		{4, 100, true, false},
		{100, 2, true, false},
		{100, 2, false, true}, // no users in the data: only conversations count
		{5, 0, false, true},
		{0, 0, false, false},
	} {
		if got := f.Pass(c.convs, c.users, c.known); got != c.want {
			t.Errorf("Pass(%v, %v, %v) = %v, want %v", c.convs, c.users, c.known, got, c.want)
		}
	}
	if !(Floor{}).Pass(0, 0, true) {
		t.Error("a zero floor hides something")
	}
	if (Floor{MinConversations: -1}).Check() == nil {
		t.Error("negative bound accepted")
	}
	if !(Floor{MinConversations: 1, MinUsers: 5}).Off(false) || (Floor{MinConversations: 1, MinUsers: 5}).Off(true) {
		t.Error("Off")
	}
}
