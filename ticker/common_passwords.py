"""The commonest passwords, refused whatever their length (ticker.passwords).

A small list on purpose: the head of the public most-common-password rankings (the ones every guessing attack
tries first), their usual longer variants, and Swedish ones. Compared case-insensitively.
"""

from __future__ import annotations

_LIST = """
123456 123456789 12345678 1234567890 12345 1234567 123123 111111 000000 654321 666666 121212 112233
123321 987654321 1234554321 0123456789 9876543210 1111111111 0000000000 1212121212 1122334455 1029384756
12345678910 123456789a 123456789q 1234567890q 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y 1qaz2wsx 1qaz2wsx3edc
zaq12wsx zaq1zaq1 qwerty qwerty123 qwerty1234 qwerty12345 qwertyuiop qwertyuiop123 qwertyui qwertz
asdfgh asdfghjkl asdfghjkl123 zxcvbnm zxcvbnm123 azerty qazwsx qazwsxedc qazwsxedcrfv 1qazxsw2 asdf1234
password password1 password12 password123 password1234 password12345 passw0rd p@ssw0rd p@ssword
passwordpassword mypassword mypassword123 newpassword changeme changeme123 letmein letmein123 welcome
welcome1 welcome123 welcome2024 welcome2025 welcome2026 admin admin123 admin1234 administrator
administrator1 root toor secret secret123 topsecret iloveyou iloveyou1 iloveyou123 iloveyou2
princess princess1 sunshine sunshine1 football football1 baseball basketball soccer hockey monkey
monkey123 dragon dragon123 master master123 shadow superman batman michael jennifer jessica charlie
trustno1 starwars whatever freedom abc123 abc12345 abcd1234 abcdef abcdefg abcdefgh abcdefghij
aa123456 a1b2c3d4 a123456789 aaaaaa aaaaaaaa aaaaaaaaaa qqqqqqqqqq zzzzzzzzzz 1111111 11111111
111111111 qwe123 qwe123qwe 123qwe 123qweasd 123qweasdzxc 1234qwer 1234qwerasdf qwer1234 q1w2e3r4
q1w2e3r4t5 q1w2e3r4t5y6 987654 7777777 88888888 99999999 55555555 123654 147258369 159753 159357
741852963 789456123 456789 123456a 123456abc 12345qwert 12345qwerty qwerty123456 computer internet
samsung google hello hello123 helloworld lovely loveme love123 ninja mustang access flower hottie
summer summer2024 summer2025 winter winter2024 spring autumn january december monday friday
login login123 guest guest123 test test123 test1234 testtest testing testing123 default user user123
demo demo123 demodemo ticker ticker123 newsroom newsroom1 redaktion redaktion1 reporter reporter1
editor editor1 journalist nyheter nyheter1 tidning tidningen
losenord lösenord lösenord1 lösenord12 lösenord123 lösenord1234 losenord1 losenord123 losenord1234
hejhej hejhej123 hejsan hejsan123 hemligt hemligt1 hemligt123 sommar sommar123 sommar2024 sommar2025
sommar2026 vinter vinter123 vinter2024 vinter2025 hösten våren sverige sverige1 sverige123 stockholm
stockholm1 göteborg goteborg malmö malmo uppsala kalle kalleanka kanelbulle fotboll fotboll1 hockey1
hammarby djurgården djurgarden aik aik1891 ifkgöteborg ifkgoteborg mammapappa mamma123 pappa123
katten hunden älskling alskling jagälskardig jagalskardig solsken solros blomma tjejer killar
"""
WORDS = frozenset(_LIST.split())
