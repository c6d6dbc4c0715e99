# Quayside: two commands do all the set-up on a fresh machine.
#   make run   builds the release and serves http://127.0.0.1:3000 (SQLite and blobs in ./data)
#   make test  runs every test (unit, SQLite + PostgreSQL, HTTP, browser)

.PHONY: run test demo

run:
	bash .ci/setup.sh run
	cargo leptos build --release
	./target/release/quayside serve --listen 127.0.0.1:3000 --data-dir ./data

test:
	bash .ci/test.sh

# Fill ./data with demo repositories (run before `make run`, on an empty data dir).
demo:
	cargo leptos build --release
	./target/release/quayside demo --data-dir ./data
