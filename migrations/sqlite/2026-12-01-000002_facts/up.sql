-- The dataset's `facts` section (what the source documents state about the networks as a whole, quoted
-- with their sources): one row holding the statements as a JSON array, in the file's order.
CREATE TABLE facts (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    statements TEXT NOT NULL
);
