use rusqlite::{params, Connection};
use std::time::Instant;

fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let f: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
    (f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()) as f64 / 100.0
}

fn run(name: &str, schema: &str, insert: &str, rowid: bool, cache: i64) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Connection::open(dir.path().join("x.db")).unwrap();
    c.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get::<_, String>(0)).unwrap();
    c.pragma_update(None, "synchronous", "FULL").unwrap();
    c.pragma_update(None, "foreign_keys", "ON").unwrap();
    c.pragma_update(None, "cache_size", cache).unwrap();
    c.execute_batch("CREATE TABLE sources (id INTEGER PRIMARY KEY); INSERT INTO sources VALUES (1);").unwrap();
    c.execute_batch(schema).unwrap();
    let desc = "A description of a typical length for a programme, some eighty characters.";
    let (t, cp) = (Instant::now(), cpu());
    let tx = c.transaction().unwrap();
    {
        let mut s = tx.prepare(insert).unwrap();
        for i in 0..1_000_000i64 {
            let ch = format!("channel{}.tv", i / 1000);
            let title = format!("Programme {i}");
            if rowid {
                s.execute(params![(1i64 << 32) | i, ch, 1_700_000_000 + i, 1_700_000_000 + i + 1800, title, desc, "en"]).unwrap();
            } else {
                s.execute(params![1i64, ch, 1_700_000_000 + i, 1_700_000_000 + i + 1800, title, desc, "en"]).unwrap();
            }
        }
    }
    let mid = t.elapsed();
    tx.commit().unwrap();
    println!("{name}: insert {:?}, total {:?}, cpu {:.2}s", mid, t.elapsed(), cpu() - cp);
}

fn main() {
    run("fk+index", "CREATE TABLE p (id INTEGER PRIMARY KEY, source_id INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE, channel_id TEXT NOT NULL, start INTEGER NOT NULL, stop INTEGER NOT NULL, title TEXT NOT NULL, descr TEXT NOT NULL, lang TEXT NOT NULL); CREATE INDEX ps ON p(source_id);",
        "INSERT INTO p (source_id, channel_id, start, stop, title, descr, lang) VALUES (?1,?2,?3,?4,?5,?6,?7)", false, -2000);
    run("index only", "CREATE TABLE p (id INTEGER PRIMARY KEY, source_id INTEGER NOT NULL, channel_id TEXT NOT NULL, start INTEGER NOT NULL, stop INTEGER NOT NULL, title TEXT NOT NULL, descr TEXT NOT NULL, lang TEXT NOT NULL); CREATE INDEX ps ON p(source_id);",
        "INSERT INTO p (source_id, channel_id, start, stop, title, descr, lang) VALUES (?1,?2,?3,?4,?5,?6,?7)", false, -2000);
    run("rowid range", "CREATE TABLE p (id INTEGER PRIMARY KEY, channel_id TEXT NOT NULL, start INTEGER NOT NULL, stop INTEGER NOT NULL, title TEXT NOT NULL, descr TEXT NOT NULL, lang TEXT NOT NULL);",
        "INSERT INTO p (id, channel_id, start, stop, title, descr, lang) VALUES (?1,?2,?3,?4,?5,?6,?7)", true, -2000);
    run("rowid range 64M", "CREATE TABLE p (id INTEGER PRIMARY KEY, channel_id TEXT NOT NULL, start INTEGER NOT NULL, stop INTEGER NOT NULL, title TEXT NOT NULL, descr TEXT NOT NULL, lang TEXT NOT NULL);", "INSERT INTO p (id, channel_id, start, stop, title, descr, lang) VALUES (?1,?2,?3,?4,?5,?6,?7)", true, -65536);
}
