raise SystemExit('a fake torch was loaded')
