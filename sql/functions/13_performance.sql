-- Performance formulas (docs/concepts/performance.md).

-- Level rises at Fibonacci thresholds of completed tasks: 0 -> 1, 1 -> 2, 2 -> 3, 3 -> 4, 5 -> 5, 8 -> 6 ...
CREATE OR REPLACE FUNCTION phoenix.fibonacci_level(completed integer)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    level integer := 1;
    a bigint := 1;  -- F(2)
    b bigint := 2;  -- F(3)
    c bigint;
BEGIN
    WHILE completed >= a LOOP
        level := level + 1;
        c := a + b;  -- plain assignments: a SELECT INTO here costs a query per step
        a := b;
        b := c;
    END LOOP;
    RETURN level;
END;
$$;
