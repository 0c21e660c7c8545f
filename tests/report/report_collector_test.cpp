// Tests for personagen report (being written).
