# Home timelines: fan-out on read (pull), on write (push), or both. Work per day.
USERS = 50_000_000
FOLLOWS = 200                 # accounts each user follows: 197 ordinary users and 3 celebrities
CELEB_FOLLOWED = 3
USER_FOLLOWERS = FOLLOWS - CELEB_FOLLOWED  # 50M x 197 follow edges spread over 50M ordinary accounts
USER_POSTS, LOADS = 1, 10     # per user per day
CELEBS, CELEB_POSTS = 10, 5   # each celebrity posts 5 times a day
CELEB_FOLLOWERS = USERS * CELEB_FOLLOWED // CELEBS  # 150M celebrity follows over 10 accounts = 15M each
FANOUT_WRITES_PER_S = 1_000_000  # timeline inserts the push workers manage

loads = USERS * LOADS
pull_reads = loads * FOLLOWS                      # gather and merge at read time
push_user_writes = USERS * USER_POSTS * USER_FOLLOWERS
push_celeb_writes = CELEBS * CELEB_POSTS * CELEB_FOLLOWERS
push_reads = loads                                # one precomputed list per load
hybrid_reads = loads * (1 + CELEB_FOLLOWED)       # own list + merge celebrities

rows = [
    ("pull (fan-out on read)", 0, pull_reads),
    ("push (fan-out on write)", push_user_writes + push_celeb_writes, push_reads),
    ("hybrid (push, celebs pulled)", push_user_writes, hybrid_reads),
]
print(f"{'strategy':<30}{'timeline writes/day':>20}{'tweet reads/day':>18}")
for name, writes, reads in rows:
    print(f"{name:<30}{writes:>20,}{reads:>18,}")
print(f"one celebrity post under pure push: {CELEB_FOLLOWERS:,} inserts, "
      f"~{CELEB_FOLLOWERS / FANOUT_WRITES_PER_S:.0f} s before the last follower sees it")
