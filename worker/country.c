/*
 * NAME
 *	country - is a word the name of a country?
 * DESCRIPTION
 *	register has two orders in the wild: "<user> <password> <name>
 *	<country>" and "<name> <country> <user> <password>".  A country
 *	name in second or fourth place tells them apart (forms.c).  Names
 *	are compared without case, with '_', '-' and '.' skipped, so that
 *	"United_Kingdom", "united-kingdom" and "UnitedKingdom" are one.
 *	English names, the usual short forms, and the Indonesian names that
 *	differ from the English ones.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "worker/worker.h"

static const char *const countries[] = {
	"afghanistan", "albania", "algeria", "andorra", "angola", "antigua",
	"argentina", "armenia", "australia", "austria", "azerbaijan",
	"bahamas", "bahrain", "bangladesh", "barbados", "belarus", "belgium",
	"belize", "benin", "bhutan", "bolivia", "bosnia", "botswana", "brazil",
	"brunei", "bulgaria", "burkinafaso", "burundi", "cambodia", "cameroon",
	"canada", "capeverde", "chad", "chile", "china", "colombia", "comoros",
	"congo", "costarica", "croatia", "cuba", "cyprus", "czechia",
	"czechrepublic", "denmark", "djibouti", "dominica", "dominicanrepublic",
	"easttimor", "timorleste", "ecuador", "egypt", "elsalvador", "england",
	"eritrea", "estonia", "eswatini", "ethiopia", "fiji", "finland",
	"france", "gabon", "gambia", "georgia", "germany", "ghana", "greece",
	"grenada", "guatemala", "guinea", "guyana", "haiti", "honduras",
	"hongkong", "hungary", "iceland", "india", "indonesia", "iran", "iraq",
	"ireland", "israel", "italy", "ivorycoast", "jamaica", "japan",
	"jordan", "kazakhstan", "kenya", "kiribati", "korea", "southkorea",
	"northkorea", "kosovo", "kuwait", "kyrgyzstan", "laos", "latvia",
	"lebanon", "lesotho", "liberia", "libya", "liechtenstein", "lithuania",
	"luxembourg", "madagascar", "malawi", "malaysia", "maldives", "mali",
	"malta", "mauritania", "mauritius", "mexico", "micronesia", "moldova",
	"monaco", "mongolia", "montenegro", "morocco", "mozambique", "myanmar",
	"namibia", "nauru", "nepal", "netherlands", "holland", "newzealand",
	"nicaragua", "niger", "nigeria", "northmacedonia", "macedonia",
	"northernireland", "norway", "oman", "pakistan", "palau", "palestine",
	"panama", "papuanewguinea", "paraguay", "peru", "philippines",
	"poland", "portugal", "qatar", "romania", "russia", "rwanda", "samoa",
	"sanmarino", "saudiarabia", "scotland", "senegal", "serbia",
	"seychelles", "sierraleone", "singapore", "slovakia", "slovenia",
	"somalia", "southafrica", "southsudan", "spain", "srilanka", "sudan",
	"suriname", "sweden", "switzerland", "syria", "taiwan", "tajikistan",
	"tanzania", "thailand", "togo", "tonga", "trinidad", "tunisia",
	"turkey", "turkiye", "turkmenistan", "tuvalu", "uganda", "ukraine",
	"uae", "unitedarabemirates", "uk", "unitedkingdom", "greatbritain",
	"britain", "usa", "unitedstates", "unitedstatesofamerica",
	"america", "uruguay", "uzbekistan", "vanuatu", "vatican", "venezuela",
	"vietnam", "wales", "yemen", "zambia", "zimbabwe",
	/* Indonesian names that differ from the English ones */
	"afrikaselatan", "amerika", "amerikaserikat", "arabsaudi", "belanda",
	"belgia", "brasil", "ceko", "filipina", "inggris",
	"irlandia", "islandia", "italia", "jepang", "jerman", "kamboja",
	"kanada", "kolombia", "koreaselatan", "koreautara", "kroasia", "mesir",
	"meksiko", "norwegia", "perancis", "prancis", "polandia", "rusia",
	"selandiabaru", "singapura", "skotlandia", "spanyol", "swedia",
	"swiss", "tiongkok", "turki", "yordania", "yunani",
};

/* fold - s lower-cased without '_', '-' and '.'; false if too long */
static bool
fold(const char *s, size_t len, char *out, size_t size)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (ch == '_' || ch == '-' || ch == '.')
			continue;
		if (n + 1 >= size)
			return false;
		out[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	out[n] = '\0';
	return n > 0;
}

/* country_known - whether s names a country */
bool
country_known(const char *s, size_t len)
{
	char key[40];

	if (!fold(s, len, key, sizeof(key)))
		return false;
	for (size_t i = 0; i < ARRAY_LEN(countries); i++)
		if (strcmp(countries[i], key) == 0)
			return true;
	return false;
}
