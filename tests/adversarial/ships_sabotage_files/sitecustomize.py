raise SystemExit('sitecustomize was loaded')
