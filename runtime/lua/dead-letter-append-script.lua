return dead_letter_append(KEYS[1], KEYS[2], tonumber(ARGV[1]), ARGV, 2)
