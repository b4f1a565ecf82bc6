raise SystemExit('a fake pytest was loaded')
