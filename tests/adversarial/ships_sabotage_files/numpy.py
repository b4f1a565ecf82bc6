raise SystemExit('a fake numpy was loaded')
