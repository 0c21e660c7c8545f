// End-to-end tests of personagen report (being written).
