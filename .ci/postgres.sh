# Sourced by .ci/run (and usable by hand): start Debian's PostgreSQL cluster on 127.0.0.1:5432,
# create the test role and database, and export MQIOT_TEST_PG_URL for the store tests.
PGVER=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
  pg_ctlcluster "$PGVER" main start || service postgresql start
fi
runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='mqiot'" | grep -q 1 ||
  runuser -u postgres -- psql -qc "CREATE ROLE mqiot LOGIN SUPERUSER PASSWORD 'mqiot'"
runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname='mqiot_test'" | grep -q 1 ||
  runuser -u postgres -- createdb -O mqiot mqiot_test
export MQIOT_TEST_PG_URL=postgres://mqiot:mqiot@127.0.0.1:5432/mqiot_test
