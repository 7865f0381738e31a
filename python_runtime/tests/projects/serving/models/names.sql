-- String keys holding the key syntax's own delimiters, escapes and any unicode.
select name, timestamp '2099-01-01 10:00:00' as ts, 'v:' || name as echo
from (values ('a}b'), ('}'), ('%7D'), ('x:y'), ('{'), ('{a}'), ('日本 🚀'), (''), ('1:2'), ('%'))
  as t(name)
