-- Ids made in the same millisecond sort in the order they were made (RFC 9562, section 6.2,
-- method 3: the 12 bits after the version hold the fraction of the millisecond, at 1/4096 ms).
-- The claim order breaks ties of claim_key by id, and every task of one submission or one
-- delegation has the same claim_key (its transaction's time): with random bits there, siblings
-- made in one millisecond were claimed in a random order, so a delegation's second child could be
-- taken before its first. Now they are claimed as they were made, unless two were made within
-- one microsecond, which clock_timestamp() cannot tell apart (a microsecond is 4 of the 4,096 steps).
-- Ids already stored keep their bits; they are still unique and still grow with time.
CREATE OR REPLACE FUNCTION phoenix.uuid_v7(at timestamptz DEFAULT clock_timestamp())
RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    -- The first 8 bytes: 48 bits of Unix milliseconds, the version (0111), 12 bits of the
    -- millisecond's fraction; the other 8 are gen_random_uuid()'s, its variant bits included.
    -- The time is counted once in 1/4096 ms (60 bits) and the version put between its two parts,
    -- because the planner inlines a function only if a volatile argument (clock_timestamp()) is
    -- used once; inlined, it is not planned on each call (tests/board/test_call_costs.py).
    SELECT encode(
        overlay(uuid_send(gen_random_uuid())
                PLACING int8send(substring(overlay(floor(extract(epoch FROM at) * 4096000)::bigint::bit(64)
                                                   PLACING B'0111' FROM 53 FOR 0)
                                           FROM 5 FOR 64)::bigint)
                FROM 1 FOR 8),
        'hex')::uuid
$$;
